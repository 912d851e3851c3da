"""scripts/check-infra itself: the template rendering and the skip that must say so."""

import pytest

from scripts import infra


def test_rendering_fills_only_lowcode_variables_and_refuses_missing_ones():
    text = "server ${LOWCODE_API_UPSTREAM} resolve; proxy_set_header Upgrade $http_upgrade;"
    rendered = infra.render_template(text, {"LOWCODE_API_UPSTREAM": "api:8080"})
    assert rendered == "server api:8080 resolve; proxy_set_header Upgrade $http_upgrade;"
    with pytest.raises(ValueError, match="LOWCODE_DNS_RESOLVER"):
        infra.render_template("resolver ${LOWCODE_DNS_RESOLVER};", {})


def test_without_any_nginx_the_check_says_it_was_skipped(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(infra, "_nginx_binary", lambda: None)
    assert infra.check_nginx(tmp_path) is True
    assert "nginx -t: SKIPPED, not checked" in capsys.readouterr().out


def test_kustomization_yaml_is_not_sent_to_the_kubernetes_validator():
    names = {p.name for p in infra.k8s_manifests(infra.ROOT / "infra" / "k8s")}
    assert "kustomization.yaml" not in names and "api.yaml" in names
