"""Celery workers: `celery -A workers.app worker -Q gpu` grades on CUDA, `-Q cpu` on the CPU."""
