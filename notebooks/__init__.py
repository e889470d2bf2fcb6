"""Package data: the parameterised notebooks, shipped as ``posture.assets.notebooks``."""
