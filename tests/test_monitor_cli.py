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


def test_inventory_without_a_cluster_exits_2_with_one_line(tmp_path):
    result = run_cli("inventory", "--kubeconfig", str(tmp_path / "nope"), env={"KUBECONFIG": ""})
    assert (result.code, result.stdout) == (2, "")
    assert result.stderr == f"gatekeeper: --kubeconfig {tmp_path / 'nope'}: no such file\n"


def test_inventory_with_an_unreachable_api_exits_2_with_one_line(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: dead\n"
        "clusters: [{name: dead, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "users: [{name: nobody, user: {}}]\n"
        "contexts: [{name: dead, context: {cluster: dead, user: nobody}}]\n")
    result = run_cli("inventory", "--kubeconfig", str(kubeconfig))
    assert result.code == 2 and result.stdout == "" and result.stderr.count("\n") == 1
    assert result.stderr.startswith("gatekeeper: cannot read the PolicyReports: list policyreports: ")


def test_inventory_format_is_checked():
    result = run_cli("inventory", "--format", "xml")
    assert result.code == 2 and "Traceback" not in result.stderr
