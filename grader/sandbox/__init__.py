"""Where student code runs: a fork server, isolation layers, a data-only protocol, a trusted proxy."""
