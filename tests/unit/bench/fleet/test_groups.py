"""A fleet's groups: one per model and accelerator type, spelled as the cluster spells it, each placeable
before any task starts; their keys in the fleet's run directory."""

import pytest

from bench.errors import UserError
from bench.fleet.cluster import Node, check_address
from bench.fleet.groups import Group, check_schedulable, plan_groups
from bench.inputs.cards import load_card
from bench.inputs.suite import EngineSettings, Suite
from bench.serve.server import server_command

H100_NODE = Node("n1", "10.0.0.1", "gpu-a", {"CPU": 32, "GPU": 8, "accelerator_type:H100": 1})
A100_NODE = Node("n2", "10.0.0.2", "gpu-b", {"CPU": 32, "GPU": 8, "accelerator_type:A100": 1})


def suite(**kw) -> Suite:
    return Suite(models=("tiny-dense", "tiny-moe"), engines=("vllm",), **kw)


def test_one_group_per_model_and_accelerator_type_spelled_as_the_cluster_does():
    groups = plan_groups(suite(fleet={"accelerators": ("h100", "A100")}), [H100_NODE, A100_NODE])
    assert [g.name for g in groups] == ["tiny-dense@H100", "tiny-dense@A100", "tiny-moe@H100", "tiny-moe@A100"]
    assert groups[0].resources() == {"accelerator_type:H100": 0.001}
    assert groups[0].prefix == "H100/"


def test_without_accelerator_types_one_group_per_model_anywhere():
    groups = plan_groups(suite(), [H100_NODE])
    assert groups == [Group("tiny-dense"), Group("tiny-moe")]
    assert groups[0].prefix == "" and groups[0].resources() == {}


def test_a_type_no_node_has_is_refused_naming_what_the_cluster_offers():
    with pytest.raises(
        UserError,
        match=r"fleet.accelerators: no node of the Ray cluster is of type B200 "
        r"\(its nodes offer: A100, H100\)",
    ):
        plan_groups(suite(fleet={"accelerators": ("B200",)}), [H100_NODE, A100_NODE])


def test_group_points_are_the_one_machine_points_under_the_type():
    s = suite(batch_sizes=(1, 4), fleet={"accelerators": ("H100",)})
    keys = [p.key for p in Group("tiny-moe", "H100").planned(s)]
    assert keys == ["H100/tiny-moe/vllm/batch1/isl128/osl128", "H100/tiny-moe/vllm/batch4/isl128/osl128"]
    assert Group("tiny-moe", "H100").suite(s).models == ("tiny-moe",)


def test_a_task_holds_the_engines_gpus_on_one_node_unless_vllm_spans_nodes():
    tp4 = suite(engine={"tensor_parallel_size": 4})
    assert Group("tiny-dense").task_gpus(tp4, cluster_has_gpus=True) == 4
    assert Group("tiny-dense").task_gpus(tp4, cluster_has_gpus=False) == 0  # a CPU cluster
    spanning = suite(engine={"tensor_parallel_size": 16, "executor": "ray"})
    assert Group("tiny-dense").task_gpus(spanning, cluster_has_gpus=True) == 0  # vLLM's placement group holds them


def test_an_engine_larger_than_any_node_is_refused_unless_it_spans_nodes():
    big = suite(engine={"tensor_parallel_size": 16})
    with pytest.raises(UserError, match="engine.tensor_parallel_size: tiny-dense needs 16 GPUs on one node"):
        check_schedulable([Group("tiny-dense")], big, [H100_NODE, A100_NODE], True)
    spanning = suite(engine={"tensor_parallel_size": 16, "executor": "ray"})
    check_schedulable([Group("tiny-dense")], spanning, [H100_NODE, A100_NODE], True)
    with pytest.raises(
        UserError, match="needs 16 GPUs for vLLM's Ray backend, and the cluster's nodes of that type have 8"
    ):
        check_schedulable([Group("tiny-dense", "H100")], spanning, [H100_NODE, A100_NODE], True)


def test_suite_settings_that_cannot_go_together_are_refused():
    with pytest.raises(UserError, match="fleet.accelerators: names an accelerator type twice"):
        Suite(fleet={"accelerators": ("H100", "h100")}).check()
    with pytest.raises(UserError, match="engine.executor: 'ray' is vLLM's Ray backend, and the transformers"):
        Suite(engines=("vllm", "transformers"), engine={"executor": "ray"}).check()


@pytest.mark.parametrize("address", ["10.0.0.1:6379", "auto", "head.cluster.local:6379", "[::1]:6379"])
def test_cluster_addresses(address):
    assert check_address(address) == address


@pytest.mark.parametrize(
    "address, problem",
    [
        ("ray://user:hunter2@head:10001", "is a Ray Client address"),
        ("head", "is not a cluster address"),
        ("http://head:6379", "is not a cluster address"),
        ("user:hunter2@head:6379", "holds a user name or password"),
        ("hunter2@head:6379", "holds a user name or password"),
        ("head:hunter2@10.0.0.1:6379", "holds a user name or password"),
        ("head:65536", "port 65536 is not between 1 and 65535"),
        ("head:99999", "port 99999 is not between 1 and 65535"),
        ("head:0", "port 0 is not between 1 and 65535"),
    ],
)
def test_addresses_refused_without_echoing_a_password(address, problem):
    with pytest.raises(UserError, match=problem) as refused:
        check_address(address)
    assert "hunter2" not in str(refused.value)


def test_vllms_ray_backend_is_asked_for_by_the_server_command():
    card = load_card("tiny-dense")
    command = server_command(card, EngineSettings(executor="ray"), 8000, 4)
    assert command[command.index("--distributed-executor-backend") + 1] == "ray"
    assert "--distributed-executor-backend" not in server_command(card, EngineSettings(), 8000, 4)


def test_an_empty_address_is_refused_not_ignored(tmp_path):
    from tests.support.cli import tokencost

    result = tokencost("run", "--ray-address", "", "--out", tmp_path / "run")
    assert result.returncode == 2
    assert result.stderr.startswith("tokencost: error: --ray-address: '' is not a cluster address")
    assert not (tmp_path / "run").exists()
