"""The domain: entities, rules and services; no platform, ORM or scheduler imports."""
