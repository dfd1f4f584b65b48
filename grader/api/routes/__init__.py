"""One APIRouter per module; grader.api.main mounts them all under /api."""
