"""What to measure: suites, workloads and model cards (with their parameter counts). Imports only the kernel."""
