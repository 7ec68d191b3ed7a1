"""How joules are obtained and whether to trust them: meters, the power sampler, GPU discovery, checks, doctor.

Imports only the kernel: energy knows nothing of engines, suites or runs.
"""
