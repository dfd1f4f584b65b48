# One image for the API, the migrate job and both workers (docker-compose.yml picks the command).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    OMP_NUM_THREADS=1

# libseccomp for the sandbox's syscall filter; util-linux for unshare.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libseccomp2 util-linux \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app

# torch first and alone: the largest layer, cached across code changes.
RUN pip install torch==2.13.0

COPY pyproject.toml ./
COPY grader ./grader
COPY workers ./workers
COPY migrations ./migrations
COPY rubrics ./rubrics
# Editable: rubrics/ and migrations/ are found next to the package (grader.config.PROJECT_ROOT).
RUN pip install -e .

EXPOSE 8000
CMD ["uvicorn", "grader.api.main:create_app", "--factory", "--host", "0.0.0.0", "--port", "8000"]
