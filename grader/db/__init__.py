"""The schema (models), the declarative base and sessions; migrations live in migrations/."""
