"""What the tests and the benchmark both stand on, so that neither imports the other (and the
service imports neither): sample HW2 submissions with known scores (`harness.samples`) and local
servers for a run (`harness.servers`: free ports, waiting on a condition, scratch databases)."""
