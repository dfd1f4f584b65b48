"""Response and request models: what the API promises, filtered from ORM rows and service results."""
