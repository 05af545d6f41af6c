"""`gatekeeper monitor` refuses to start without a cluster to watch: exit 2, one line."""

from .conftest import run_cli


def test_a_missing_kubeconfig_exits_2_with_one_line(tmp_path):
    result = run_cli("monitor", "--kubeconfig", str(tmp_path / "nope"), env={"KUBECONFIG": ""})
    assert (result.code, result.stdout) == (2, "")
    assert result.stderr == f"gatekeeper: --kubeconfig {tmp_path / 'nope'}: no such file\n"


def test_outside_a_cluster_without_kubeconfig_exits_2_with_one_line():
    result = run_cli("monitor", env={"KUBECONFIG": "", "KUBERNETES_SERVICE_HOST": ""})
    assert result.code == 2 and result.stdout == "" and result.stderr.count("\n") == 1
    assert result.stderr.startswith("gatekeeper: cannot reach a cluster: ")
    assert "Traceback" not in result.stderr
