import inspect
import shlex

import pytest

from console.commands.compose import ComposeCommands
from console.commands.containers import ContainerCommands
from console.config import Target
from console.validate import UnsafeValue

V1 = "docker-compose -p mr-dj -f /opt/mr-dj/docker-compose.yml --project-directory /opt/mr-dj"
V2 = "docker compose -p mr-dj -f /opt/mr-dj/docker-compose.yml --project-directory /opt/mr-dj"
BASES = {"docker-compose": V1, "docker compose": V2}


@pytest.fixture(params=["docker-compose", "docker compose"])
def flavour(request):
    return request.param


@pytest.fixture
def compose(flavour):
    return ComposeCommands.for_target(
        Target(host="vps", compose_command=flavour, project_dir="/opt/mr-dj", project_name="mr-dj")
    )


def joined(argv):
    assert isinstance(argv, list) and all(isinstance(a, str) for a in argv)
    return shlex.join(argv)


def test_for_target_uses_the_targets_fields():
    c = ComposeCommands.for_target(
        Target(host="h", project_dir="/srv/app", project_name="shop", compose_command="docker compose")
    )
    assert joined(c.down()) == "docker compose -p shop -f /srv/app/docker-compose.yml --project-directory /srv/app down"


@pytest.mark.parametrize(
    "method, args, tail",
    [
        (
            "maintenance_on",
            ("mr-dj-backend", ["npm", "run", "maintenance:on"]),
            "run --rm -T mr-dj-backend npm run maintenance:on",
        ),
        (
            "maintenance_off",
            ("mr-dj-backend", ["npm", "run", "maintenance:off"]),
            "run --rm -T mr-dj-backend npm run maintenance:off",
        ),
        ("down", (), "down"),
        ("up_detached", (), "up -d"),
        ("pull", (), "pull"),
        ("build", (), "build"),
        ("config_services", (), "config --services"),
        (
            "exec_",
            ("mr-dj-backend", ["node", "-e", "console.log(1)"]),
            "exec -T mr-dj-backend node -e 'console.log(1)'",
        ),
        (
            "recreate",
            (["mr-dj-backend", "mr-dj-frontend"],),
            "up -d --no-deps --force-recreate mr-dj-backend mr-dj-frontend",
        ),
        ("logs_tail", (), "logs --no-color --tail=50"),
        ("logs_tail", (200, ["mr-dj-backend"]), "logs --no-color --tail=200 mr-dj-backend"),
        ("logs_follow", (), "logs -f --no-color --tail=50 -t"),
        ("logs_follow", (10, ["mr-dj-frontend"], False), "logs -f --no-color --tail=10 mr-dj-frontend"),
        (
            "migrate_status",
            ("mr-dj-backend", ["npm", "run", "migrate:status"], "run"),
            "run --rm --no-deps -T mr-dj-backend npm run migrate:status",
        ),
    ],
)
def test_builders_for_both_flavours(compose, flavour, method, args, tail):
    assert joined(getattr(compose, method)(*args)) == f"{BASES[flavour]} {tail}"


@pytest.mark.parametrize(
    "method, args, command",
    [
        (
            "maintenance_on",
            ("mr-dj-backend", ["npm", "run", "maintenance:on"], "exec"),
            ["npm", "run", "maintenance:on"],
        ),
        (
            "maintenance_off",
            ("mr-dj-backend", ["npm", "run", "maintenance:off"], "exec"),
            ["npm", "run", "maintenance:off"],
        ),
        ("migrate_status", ("mr-dj-backend", ["npm", "run", "migrate:status"]), ["npm", "run", "migrate:status"]),
        ("smoke_test", ("mr-dj-backend", ["npm", "run", "smoke:test"]), ["npm", "run", "smoke:test"]),
        (
            "migrate_rollback",
            ("mr-dj-backend", ["knex", "down", "--to={migration}"], "m1", "exec"),
            ["knex", "down", "--to=m1"],
        ),
        ("in_service", ("exec", "mr-dj-backend", ["node", "-e", "console.log(1)"]), ["node", "-e", "console.log(1)"]),
    ],
)
def test_a_command_in_the_running_service_is_docker_exec_not_compose(compose, method, args, command):
    """`compose exec -T` is `docker exec -i` into the service's container; the docker CLI does it
    without docker-compose v1's Python start-up, on both flavours alike."""
    argv = getattr(compose, method)(*args)
    assert argv == ContainerCommands("mr-dj").exec_in_service("mr-dj-backend", command)
    assert argv[:2] == ["sh", "-c"] and "docker-compose" not in argv and "compose" not in argv[3:5]
    assert argv[-len(command) :] == command


def test_migrate_rollback_before_down_runs_a_one_off_container(compose, flavour):
    template = ["npm", "run", "migrate:rollback", "--", "--to", "{migration}"]
    argv = compose.migrate_rollback("mr-dj-backend", template, "20240501_add_bookings", via="run")
    assert joined(argv) == (
        f"{BASES[flavour]} run --rm -T mr-dj-backend npm run migrate:rollback -- --to 20240501_add_bookings"
    )
    assert template[-1] == "{migration}"  # the configured template is not mutated


def test_migrate_rollback_after_up_execs_in_the_running_service(compose):
    argv = compose.migrate_rollback(
        "mr-dj-backend", ["knex", "migrate:rollback", "--to={migration}"], "v1.2:003", via="exec"
    )
    assert argv[-3:] == ["knex", "migrate:rollback", "--to=v1.2:003"]
    assert argv[argv.index("sh", 1) + 1 : argv.index("sh", 1) + 3] == ["mr-dj", "mr-dj-backend"]


def test_migrate_rollback_requires_the_placeholder_and_a_known_via(compose):
    with pytest.raises(UnsafeValue, match="placeholder|\\{migration\\}"):
        compose.migrate_rollback("mr-dj-backend", ["npm", "run", "migrate:rollback"], "001")
    with pytest.raises(UnsafeValue, match="via"):
        compose.migrate_rollback("mr-dj-backend", ["x", "{migration}"], "001", via="ssh")


def test_ps_is_json_on_v2_and_the_table_on_v1():
    v1 = ComposeCommands("docker-compose", "mr-dj", "/opt/mr-dj")
    v2 = ComposeCommands("docker compose", "mr-dj", "/opt/mr-dj")
    assert joined(v1.ps()) == f"{V1} ps"
    assert joined(v2.ps()) == f"{V2} ps --format json -a"


def test_version_needs_no_project():
    v1 = ComposeCommands("docker-compose", "mr-dj", "/opt/mr-dj")
    v2 = ComposeCommands("docker compose", "mr-dj", "/opt/mr-dj")
    assert joined(v1.version()) == "docker-compose version --short"
    assert joined(v2.version()) == "docker compose version --short"


def test_every_project_command_names_project_file_and_directory(compose):
    for argv in _every_builder_output(compose):
        if "version" in argv:
            continue
        if argv[:2] == ["sh", "-c"]:  # a command in the running service: by compose's labels
            assert argv[4] == "mr-dj"
            continue
        assert argv[argv.index("-p") + 1] == "mr-dj"
        assert argv[argv.index("-f") + 1] == "/opt/mr-dj/docker-compose.yml"
        assert argv[argv.index("--project-directory") + 1] == "/opt/mr-dj"


def test_no_builder_can_remove_volumes(compose):
    outputs = _every_builder_output(compose)
    assert len(outputs) >= 15
    for argv in outputs:
        compose_args = argv[: argv.index("-T")] if "-T" in argv else argv  # the service's own argv is not ours
        assert "-v" not in compose_args and "--volumes" not in compose_args, argv
    assert compose.down()[-1] == "down"


def _every_builder_output(compose):
    """Call every public builder with valid arguments; fails if a new builder is not covered."""
    calls = {
        "maintenance_on": ("svc", ["a"]),
        "maintenance_off": ("svc", ["a"]),
        "down": (),
        "up_detached": (),
        "pull": (),
        "build": (),
        "config_services": (),
        "exec_": ("svc", ["a"]),
        "run_rm": ("svc", ["a"]),
        "recreate": (["svc"],),
        "logs_tail": (5, ["svc"]),
        "logs_follow": (5, ["svc"]),
        "migrate_status": ("svc", ["a"]),
        "smoke_test": ("svc", ["a"]),
        "ps": (),
        "version": (),
        "migrate_rollback": ("svc", ["{migration}"], "m1"),
        "in_service": ("exec", "svc", ["a"]),
        "compose": ("top",),
        "config_model": (),
    }
    public = {
        name
        for name, member in inspect.getmembers(ComposeCommands)
        if not name.startswith("_") and callable(member) and name != "for_target"
    }
    assert public == set(calls), f"add new builders to this test: {public ^ set(calls)}"
    return [getattr(compose, name)(*args) for name, args in calls.items()]


INJECTIONS = ["v1;touch /tmp/pwned", "v1\n", "../x", "svc\u0661", "", "$(id)", "a b", "-h", "svc`id`"]


@pytest.mark.parametrize("bad", INJECTIONS)
def test_service_names_are_validated(compose, bad):
    for build in (
        lambda: compose.maintenance_on(bad, ["npm"]),
        lambda: compose.exec_(bad, ["a"]),
        lambda: compose.recreate([bad]),
        lambda: compose.logs_tail(5, [bad]),
        lambda: compose.logs_follow(5, [bad]),
        lambda: compose.smoke_test(bad, ["a"]),
        lambda: compose.migrate_rollback(bad, ["{migration}"], "m1"),
    ):
        with pytest.raises(UnsafeValue, match="service"):
            build()


@pytest.mark.parametrize("bad", ["v1;touch /tmp/pwned", "v1\n", "../x", "\u0661\u0662", "", "-rf", "a b", "$(id)"])
def test_migration_names_are_validated(compose, bad):
    with pytest.raises(UnsafeValue, match="migration name"):
        compose.migrate_rollback("mr-dj-backend", ["--to", "{migration}"], bad)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"compose_command": "docker-compose;id"}, "compose command"),
        ({"compose_command": "podman-compose"}, "compose command"),
        ({"project_name": "Mr-DJ"}, "project name"),
        ({"project_name": "mr-dj;id"}, "project name"),
        ({"project_name": "mr-dj\n"}, "project name"),
        ({"project_name": ""}, "project name"),
        ({"project_dir": "opt/mr-dj"}, "project directory"),
        ({"project_dir": "/opt/../etc"}, "project directory"),
        ({"project_dir": "/opt/mr dj"}, "project directory"),
        ({"project_dir": "/opt/mr-dj\n"}, "project directory"),
        ({"project_dir": "/opt/$(id)"}, "project directory"),
        ({"compose_file": "../docker-compose.yml"}, "compose file"),
    ],
)
def test_target_values_are_validated(kwargs, match):
    args = {"compose_command": "docker compose", "project_name": "mr-dj", "project_dir": "/opt/mr-dj", **kwargs}
    with pytest.raises(UnsafeValue, match=match):
        ComposeCommands(**args)


@pytest.mark.parametrize("bad", [[], [""], ["npm", None], ["npm", "a\x00b"], "npm run x"])
def test_service_commands_must_be_argv_lists(compose, bad):
    with pytest.raises(UnsafeValue):
        compose.maintenance_on("mr-dj-backend", bad)


def test_shell_metacharacters_in_a_configured_command_stay_one_argument(compose):
    argv = compose.exec_("mr-dj-backend", ["echo", "a; rm -rf /"])
    assert argv[-1] == "a; rm -rf /"
    assert shlex.split(shlex.join(argv)) == argv


@pytest.mark.parametrize("bad", [-1, "50", 1.5, True])
def test_log_counts_are_non_negative_integers(compose, bad):
    with pytest.raises(UnsafeValue, match="line count"):
        compose.logs_tail(bad)


def test_recreate_needs_a_service(compose):
    with pytest.raises(UnsafeValue, match="at least one service"):
        compose.recreate([])


def test_every_compose_file_is_passed_in_order():
    target = Target(
        host="h",
        project_dir="/srv/shop",
        project_name="shop",
        compose_command="docker compose",
        compose_files=("compose.yaml", "compose.override.yaml", "deploy/compose.prod.yaml"),
    )
    c = ComposeCommands.for_target(target)
    assert joined(c.up_detached()) == (
        "docker compose -p shop -f /srv/shop/compose.yaml -f /srv/shop/compose.override.yaml "
        "-f /srv/shop/deploy/compose.prod.yaml --project-directory /srv/shop up -d"
    )
    assert joined(c.logs_follow(5)).startswith("docker compose -p shop -f /srv/shop/compose.yaml -f ")


def test_config_model_is_json_on_v2_and_yaml_on_v1():
    v2 = ComposeCommands("docker compose", "shop", "/srv/shop", ["compose.yaml", "compose.override.yaml"])
    assert joined(v2.config_model()) == (
        "docker compose -p shop -f /srv/shop/compose.yaml "
        "-f /srv/shop/compose.override.yaml --project-directory /srv/shop "
        "config --format json"
    )
    v1 = ComposeCommands("docker-compose", "shop", "/srv/shop", "docker-compose.yml")
    assert joined(v1.config_model()) == (
        "docker-compose -p shop -f /srv/shop/docker-compose.yml --project-directory /srv/shop config"
    )


@pytest.mark.parametrize("files", [[], ["/etc/compose.yaml"], ["../compose.yaml"], ["a/../../b.yml"]])
def test_compose_files_must_stay_in_the_project_dir(files):
    with pytest.raises(UnsafeValue):
        ComposeCommands("docker compose", "shop", "/srv/shop", files)


def test_auto_flavour_follows_the_host_and_prefers_v2():
    from console import host_facts

    host_facts.forget_all()
    target = Target(host="h", compose_command="auto", project_name="mr-dj", project_dir="/opt/mr-dj")
    try:
        assert ComposeCommands.for_target(target).compose_command == "docker compose"  # before asking
        host_facts.remember(target, host_facts.parse_probe("compose=v1\narch=x86_64\n"))
        assert joined(ComposeCommands.for_target(target).down()).startswith("docker-compose -p mr-dj ")
        host_facts.remember(target, host_facts.parse_probe("compose=v1\ncompose=v2\narch=aarch64\n"))
        assert ComposeCommands.for_target(target).compose_command == "docker compose"
        explicit = Target(host="h", compose_command="docker-compose", project_name="mr-dj", project_dir="/opt/mr-dj")
        assert ComposeCommands.for_target(explicit).compose_command == "docker-compose"  # the override
    finally:
        host_facts.forget_all()
