"""Package data: the MkDocs base config and theme, shipped as ``posture.assets.site``."""
