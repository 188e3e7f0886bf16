"""init's pure parts: the host's compose projects, image names, and a config check-config accepts."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from console.cli.main import main
from console.init import (
    InitAnswers,
    compose_flavour,
    health_candidates,
    parse_projects,
    render_config,
    split_image,
    validate_rendered,
)

ROOT = Path(__file__).resolve().parent.parent


def container(project, service, image, *, ports=None, host_net=False, env=(), oneoff=False, running=True):
    return {
        "Name": f"/{project}_{service}_1",
        "State": {"Running": running},
        "Config": {
            "Image": image,
            "Env": list(env),
            "ExposedPorts": {"9000/tcp": {}} if host_net else None,
            "Labels": {
                "com.docker.compose.project": project,
                "com.docker.compose.service": service,
                "com.docker.compose.project.working_dir": f"/srv/{project}",
                "com.docker.compose.project.config_files": f"/srv/{project}/compose.yaml",
                "com.docker.compose.oneoff": "True" if oneoff else "False",
            },
        },
        "HostConfig": {"NetworkMode": "host" if host_net else "default"},
        "NetworkSettings": {"Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(p)} for p in ports or []]}},
    }


def test_projects_services_and_reachable_ports_come_from_the_labels():
    text = json.dumps(
        [
            container("shop", "web", "reg.example.com:5000/team/web:v7", ports=[8080]),
            container("shop", "web", "reg.example.com:5000/team/web:v7", oneoff=True, ports=[1]),
            container("shop", "worker", "reg.example.com:5000/team/worker:v7", host_net=True, env=["PORT=7000"]),
            container("blog", "app", "ghost:5", running=False),
        ]
    )
    blog, shop = parse_projects(text)
    assert (blog.name, shop.name) == ("blog", "shop")
    assert shop.working_dir == "/srv/shop" and shop.config_files == ["/srv/shop/compose.yaml"] and shop.running
    assert shop.services["web"].ports == [8080]  # the one-off container's port is not the service's
    assert shop.services["worker"].ports == [7000, 9000]  # network_mode host: exposed ports and PORT
    assert not parse_projects(text)[0].running
    listed = parse_projects(text, json.dumps([{"Name": "empty", "ConfigFiles": "/x/compose.yml"}]))
    assert [(p.name, p.config_files) for p in listed if p.name == "empty"] == [("empty", ["/x/compose.yml"])]


def test_image_names_and_flavours_and_health_candidates():
    assert split_image("127.0.0.1:5000/mr-dj-backend:v2") == ("127.0.0.1:5000", "mr-dj-backend")
    assert split_image("reg.example.com/team/app@sha256:" + "a" * 64) == ("reg.example.com", "team/app")
    assert split_image("library/nginx:1.25") == (None, "library/nginx")
    assert split_image("localhost/app") == ("localhost", "app")
    assert compose_flavour("docker compose\ndocker-compose\n") == "docker compose"
    assert compose_flavour("docker-compose\n") == "docker-compose" and compose_flavour("") is None
    assert health_candidates("10.0.0.5", [8080])[0] == "http://10.0.0.5:8080/api/health"
    assert health_candidates("::1", [80])[0] == "http://[::1]:80/api/health"


def answers(tmp_path, **changes):
    values = dict(
        host="vps.example.com",
        port=2222,
        user="deploy",
        identity_file=str(tmp_path / "id"),
        agent=False,
        known_hosts=str(tmp_path / "known_hosts"),
        project_name="shop",
        project_dir="/srv/shop",
        compose_command="docker compose",
        registry="reg.example.com:5000",
        services=[("web", "team/web", "backend"), ("worker", "team/worker", "other")],
        health=[("web", "http://vps.example.com:8080/api/health", "version")],
        maintenance=None,
        migrations=(["bin/migrate", "status"], ["bin/migrate", "down", "{migration}"]),
        smoke_tests=[["bin/smoke", "--quick"]],
        deploy=["./deploy.sh"],
        compose_file="compose.yaml",
    )
    values.update(changes)
    return InitAnswers(**values)


def test_the_written_config_is_commented_and_check_config_accepts_it(tmp_path):
    text = render_config(answers(tmp_path, user='we"ird'))
    path = tmp_path / "console.toml"
    path.write_text(text)
    validate_rendered(text, path)
    result = subprocess.run(
        [sys.executable, "-m", "console", "check-config", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "maintenance = false   # no maintenance command" in text and "mr-dj" not in text and "npm" not in text
    from console.config import load_config

    config = load_config(path)
    assert (config.target.project_name, config.target.user, config.target.compose_command) == (
        "shop",
        'we"ird',
        "docker compose",
    )
    assert config.commands.deploy == ["./deploy.sh"] and not config.commands.maintenance
    assert config.commands.migrate_rollback == ["bin/migrate", "down", "{migration}"]
    assert config.capture.compose_file == "compose.yaml" and config.backend.name == "web"


def test_a_rollback_command_without_the_placeholder_is_refused_before_writing(tmp_path):
    from console.config import ConfigError

    text = render_config(answers(tmp_path, migrations=(["m", "status"], ["m", "down"])))
    with pytest.raises(ConfigError) as info:
        validate_rendered(text, tmp_path / "c.toml")
    assert dict(info.value.problems)["commands.migrate_rollback"].startswith("must contain the placeholder")


def test_init_without_a_terminal_names_the_missing_flag_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "c.toml"
    assert main(["init", "--non-interactive", "--out", str(out)]) == 2
    assert "--host is required" in capsys.readouterr().err and not out.exists()
    out.write_text("x")
    assert main(["init", "--non-interactive", "--out", str(out), "--host", "h"]) == 2
    assert "exists; --force overwrites it" in capsys.readouterr().err


def test_init_against_a_host_that_does_not_answer_fails_with_exit_1_and_writes_nothing(tmp_path, capsys):
    import socket

    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "c.toml"
    assert main(["init", "--non-interactive", "--out", str(out), "--host", "127.0.0.1", "--port", str(port)]) == 1
    assert capsys.readouterr().err.startswith("incident-console: cannot reach the host: ")
    assert not out.exists()
