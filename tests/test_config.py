import re
from pathlib import Path

import pytest

from console.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"


def write(tmp_path, text):
    path = tmp_path / "config.toml"
    path.write_text(text)
    return path


def problems_of(path):
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return dict(info.value.problems)


def example_with(replace_from, replace_to):
    text = EXAMPLE.read_text()
    assert replace_from in text
    return text.replace(replace_from, replace_to, 1)


def test_example_config_is_valid():
    config = load_config(EXAMPLE)
    assert config.target.project_dir == "/opt/mr-dj"
    assert config.target.compose_command == "auto"
    assert config.backend.name == "mr-dj-backend"
    assert config.health[0].expect == {"status": "ok"}
    assert config.thresholds.impact_window_minutes == 30
    assert config.slack.webhook_url.name == "SLACK_WEBHOOK_URL"
    assert config.statuspage.api_key.name == "STATUSPAGE_API_KEY"


def test_every_example_key_is_documented_by_a_comment():
    lines = EXAMPLE.read_text().splitlines()
    undocumented = [
        line
        for index, line in enumerate(lines)
        if re.match(r"^\s*[a-z_]+\s*=", line) and "#" not in line and not lines[index - 1].strip().startswith("#")
    ]
    assert undocumented == []


def test_inline_secret_is_rejected_naming_the_key(tmp_path):
    path = write(
        tmp_path,
        example_with(
            'webhook_url = "env:SLACK_WEBHOOK_URL"', 'webhook_url = "https://hooks.slack.com/services/T0/B0/xyz"'
        ),
    )
    problems = problems_of(path)
    assert "notifications.slack.webhook_url" in problems
    assert "env:NAME" in problems["notifications.slack.webhook_url"]
    # the inline value itself is never echoed back
    assert "xyz" not in str(problems)


def test_missing_host_is_rejected(tmp_path):
    path = write(tmp_path, example_with('host = "vps.example.com"', ""))
    assert problems_of(path)["target.host"] == "missing required key"


@pytest.mark.parametrize(
    "port, message", [("0", "between 1 and 65535"), ("70000", "between 1 and 65535"), ('"22"', "must be an integer")]
)
def test_bad_port_is_rejected(tmp_path, port, message):
    path = write(tmp_path, example_with("port = 22 ", f"port = {port} "))
    assert message in problems_of(path)["target.port"]


def test_unknown_key_is_rejected(tmp_path):
    path = write(tmp_path, example_with("[target]\n", '[target]\nhostname = "x"\n'))
    assert problems_of(path)["target.hostname"] == "unknown key"


def test_every_problem_is_reported_at_once(tmp_path):
    text = example_with("port = 22 ", "port = 0 ")
    text = text.replace('compose_command = "auto"', 'compose_command = "podman"')
    text = text.replace("[registry]\n", "[registry]\nbogus = 1\n")
    problems = problems_of(write(tmp_path, text))
    assert {"target.port", "target.compose_command", "registry.bogus"} <= set(problems)


def test_malformed_toml_names_the_line(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML.*line 1"):
        load_config(write(tmp_path, "[target\nhost = 1"))


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read file"):
        load_config(tmp_path / "nope.toml")


def test_relative_paths_resolve_against_the_config_file(tmp_path):
    text = example_with('known_hosts = "~/.ssh/known_hosts"', 'known_hosts = "pinned_hosts"')
    config = load_config(write(tmp_path, text))
    assert config.target.known_hosts == str(tmp_path.resolve() / "pinned_hosts")


def test_migrate_rollback_needs_placeholder(tmp_path):
    text = example_with('"--to", "{migration}"]', '"--to", "x"]')
    assert "placeholder" in problems_of(write(tmp_path, text))["commands.migrate_rollback"]


def test_no_demo_value_is_a_default(tmp_path):
    """A 7-line config used to pass and inherit the demo's mr-dj project and npm scripts."""
    problems = problems_of(
        write(
            tmp_path,
            """
[target]
host = "vps.example.com"
[registry]
url = "registry.example.com"
[[services]]
name = "web"
image = "shop-web"
""",
        )
    )
    assert problems["target.project_dir"] == "missing required key"
    assert problems["target.project_name"] == "missing required key"
    assert problems["commands"] == "missing table"


def test_every_command_is_required_unless_its_steps_are_switched_off(tmp_path):
    text = EXAMPLE.read_text()
    start, end = text.index("[commands]"), text.index("[thresholds]")
    problems = problems_of(write(tmp_path, text[:start] + '[commands]\nmigration_order = "before_down"\n' + text[end:]))
    for key in ("maintenance_on", "maintenance_off", "migrate_rollback", "migrate_status"):
        assert "missing required key (or switch the steps off" in problems[f"commands.{key}"]
    assert problems["commands.smoke_tests"] == "missing required key"
    config = load_config(
        write(
            tmp_path,
            text[:start] + "[commands]\nmaintenance = false\nmigrations = false\nsmoke_tests = []\n" + text[end:],
        )
    )
    c = config.commands
    assert (c.maintenance, c.migrations, c.smoke_tests, c.maintenance_on, c.migrate_status) == (
        False,
        False,
        [],
        [],
        [],
    )
    problems = problems_of(
        write(
            tmp_path,
            text[:start] + "[commands]\nmaintenance = false\nmigrations = false\n"
            'smoke_tests = []\nmaintenance_on = ["x"]\n' + text[end:],
        )
    )
    assert problems == {"commands.maintenance_on": "is set but [commands] maintenance = false switches it off"}


# -- [staging] ------------------------------------------------------------------------------------

STAGING_BASE = """
[target]
host = "vps.example.com"
port = 2200
user = "deploy"
known_hosts = "/etc/ssh/known"
project_dir = "/opt/mr-dj"
project_name = "mr-dj"
[registry]
url = "registry.example.com"
[[services]]
name = "mr-dj-backend"
image = "mr-dj-backend"
role = "backend"
[[health]]
name = "backend"
url = "https://mr-dj.example.com/api/health"
[commands]
maintenance = false
migrations = false
smoke_tests = []
"""


STAGING_URL = "https://staging.example.com/api/health"


def staging_table(
    project_dir: str, project_name: str, health_url: str, *, host: str | None = None, port: int | None = None
) -> str:
    lines = ["[staging]"] + ([f'host = "{host}"'] if host else []) + ([f"port = {port}"] if port else [])
    lines += [
        f'project_dir = "{project_dir}"',
        f'project_name = "{project_name}"',
        "[[staging.health]]",
        'name = "backend"',
        f'url = "{health_url}"',
    ]
    return "\n" + "\n".join(lines) + "\n"


def test_staging_inherits_the_targets_connection_and_has_its_own_project(tmp_path):
    config = load_config(
        write(tmp_path, STAGING_BASE + staging_table("/opt/mr-dj-staging", "mr-dj-staging", STAGING_URL))
    )
    staging = config.staging.target
    assert (staging.host, staging.port, staging.user, staging.known_hosts) == (
        "vps.example.com",
        2200,
        "deploy",
        "/etc/ssh/known",
    )
    assert (staging.project_dir, staging.project_name) == ("/opt/mr-dj-staging", "mr-dj-staging")
    aimed = config.on_staging()
    assert aimed.target == staging and [h.url for h in aimed.health] == ["https://staging.example.com/api/health"]
    assert config.target.project_name == "mr-dj"  # the production config is untouched


def test_staging_on_another_host_does_not_inherit_the_port(tmp_path):
    config = load_config(
        write(
            tmp_path,
            STAGING_BASE
            + staging_table("/opt/mr-dj-staging", "mr-dj-staging", STAGING_URL, host="staging.example.com"),
        )
    )
    assert (config.staging.target.host, config.staging.target.port) == ("staging.example.com", 22)


def test_staging_may_never_reuse_the_production_project_even_under_another_host_name(tmp_path):
    # "localhost", an ssh alias or another port can all be the production machine
    problems = problems_of(
        write(tmp_path, STAGING_BASE + staging_table("/opt/mr-dj", "mr-dj", STAGING_URL, host="localhost", port=22))
    )
    assert "could be production" in problems["staging.project_name"]
    assert "could be production" in problems["staging.project_dir"]


def test_operator_and_host_paths_that_the_run_would_refuse_are_refused_up_front(tmp_path):
    text = STAGING_BASE.replace('project_dir = "/opt/mr-dj"', 'project_dir = "/opt/my app"')
    problems = problems_of(write(tmp_path, 'operator = "Jane O\'Neil"\n' + text))
    assert "holder of the host lock" in problems["operator"]
    assert "absolute path" in problems["target.project_dir"]


def test_no_staging_table_means_no_staging(tmp_path):
    config = load_config(write(tmp_path, STAGING_BASE))
    assert config.staging is None
    with pytest.raises(ValueError, match="no \\[staging\\]"):
        config.on_staging()


def test_staging_that_would_be_production_is_refused(tmp_path):
    problems = problems_of(
        write(tmp_path, STAGING_BASE + staging_table("/opt/mr-dj/", "mr-dj", "https://mr-dj.example.com/api/health"))
    )
    assert "must differ from target.project_name" in problems["staging.project_name"]
    assert "must differ from target.project_dir" in problems["staging.project_dir"]
    assert "production health URL" in problems["staging.health[0].url"]


def test_staging_needs_its_project_and_health_checks(tmp_path):
    problems = problems_of(
        write(
            tmp_path,
            STAGING_BASE
            + """
[staging]
user = "other"
colour = "blue"
""",
        )
    )
    assert "missing required key" in problems["staging.project_dir"]
    assert "missing required key" in problems["staging.project_name"]
    assert "at least one" in problems["staging.health"]
    assert problems["staging.colour"] == "unknown key"


def test_the_capture_compose_file_is_the_one_the_host_runs(tmp_path):
    config = load_config(
        write(
            tmp_path,
            STAGING_BASE
            + """
[capture]
compose_file = "compose.yaml"
[staging]
project_dir = "/opt/mr-dj-staging"
project_name = "mr-dj-staging"
[[staging.health]]
name = "backend"
url = "https://staging.example.com/api/health"
""",
        )
    )
    from console.commands.compose import ComposeCommands

    assert ComposeCommands.for_target(config.target).compose_file == "/opt/mr-dj/compose.yaml"
    assert ComposeCommands.for_target(config.on_staging().target).compose_file == "/opt/mr-dj-staging/compose.yaml"
    problems = problems_of(write(tmp_path, STAGING_BASE + '[capture]\ncompose_file = "../compose.yaml"\n'))
    assert "relative paths inside source_dir" in problems["capture.compose_file"]


def test_compose_files_list_default_and_compose_file_env(tmp_path):
    base = STAGING_BASE + '[capture]\nsource_dir = "src"\n'
    src = tmp_path / "src"
    src.mkdir()
    for name in ("compose.yaml", "compose.override.yaml", "docker-compose.yml"):
        (src / name).write_text("services: {}\n")
    config = load_config(write(tmp_path, base), environ={})
    assert config.capture.compose_files == config.target.compose_files == ("compose.yaml", "compose.override.yaml")
    import os

    config = load_config(write(tmp_path, base), environ={"COMPOSE_FILE": os.pathsep.join(["a.yml", "b/c.yml"])})
    assert config.target.compose_files == ("a.yml", "b/c.yml")
    config = load_config(write(tmp_path, base + 'compose_files = ["x.yml", "y.yml"]\n'), environ={})
    assert config.target.compose_files == ("x.yml", "y.yml") and config.capture.compose_file == "x.yml"
    problems = problems_of(write(tmp_path, base + 'compose_files = ["x.yml"]\ncompose_file = "x.yml"\n'))
    assert "not both" in problems["capture.compose_files"]
    problems = problems_of(write(tmp_path, base + "compose_files = []\n"))
    assert "at least one" in problems["capture.compose_files"]
