"""Fictional client estates, one seeding module per source, shared by tests and `posture demo`.

Each seeder writes realistic good and bad items across prod/staging/dev into a
throw-away server it is given, with the caller's canary values as the only
secret values, so a leak anywhere downstream is detectable.
"""
