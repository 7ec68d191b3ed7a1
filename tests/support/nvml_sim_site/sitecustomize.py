"""Simulated NVIDIA GPUs in any Python process that has this folder on PYTHONPATH.

When TOKENCOST_SIM_GPUS is set (a JSON list of SimulatedGpu keyword arguments), the first `import pynvml`
in the process installs tests.support.nvml_sim's simulation, on the real clock. Installing at that import
rather than at start keeps the processes that never touch NVML (most of Ray's) as fast to start as
without it. Without the variable this module does nothing. It never stops a process from starting: a
failure prints one line to stderr and leaves pynvml as it is.

The simulation is loaded from its file as a module of its own, `_tokencost_nvml_sim`: the first import of
pynvml may be tests.support.nvml_sim's own, and that module is then only half executed. The repository
root goes on sys.path too, so such a process imports `tests` and `bench` wherever it runs.
"""

import os
import sys

_ENV = "TOKENCOST_SIM_GPUS"  # tests.support.nvml_sim.SIM_GPUS_ENV, not imported here to stay cheap
_SUPPORT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # tests/support
_ROOT = os.path.dirname(os.path.dirname(_SUPPORT))


def _warn(error: BaseException) -> None:
    print(f"tokencost nvml_sim sitecustomize: simulation not installed: {error!r}", file=sys.stderr)


def _install() -> None:
    from importlib.util import module_from_spec, spec_from_file_location

    spec = spec_from_file_location("_tokencost_nvml_sim", os.path.join(_SUPPORT, "nvml_sim.py"))
    module = module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    module.install_from_env()


class _InstallAfterPynvml:
    """A meta path finder that runs _install() right after the pynvml module has executed."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "pynvml":
            return None
        sys.meta_path.remove(self)  # once, and never for the import of pynvml inside _install
        from importlib.util import find_spec

        spec = find_spec("pynvml")
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            try:
                _install()
            except Exception as error:  # any failure leaves the real pynvml
                _warn(error)

        spec.loader.exec_module = exec_module
        return spec


if os.environ.get(_ENV) is not None:
    try:
        if _ROOT not in sys.path:
            sys.path.append(_ROOT)  # after site-packages: the repository never shadows an installed module
        sys.meta_path.insert(0, _InstallAfterPynvml())
    except Exception as error:
        _warn(error)
