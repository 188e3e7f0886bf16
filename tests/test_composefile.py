"""Compose files read with PyYAML as Docker reads them, and the flat key comparison, on fixture strings."""

import pytest

from console.release.composefile import (
    ComposeParseError,
    compose_files_from_env,
    default_compose_files,
    diff_flat,
    flatten,
    merge_documents,
    parse_compose,
    top_level_blocks,
)

V1 = """\
# Mister DJ v1
version: "2.4"
services:
  mr-dj-backend:
    image: 127.0.0.1:5000/mr-dj-backend:v1   # pinned by tag
    network_mode: host
    init: true
    env_file: backend/.env
    environment:
      NODE_ENV: production
      DATABASE_URL: "postgres://app:s3cret-compose-pw@db/app"
    volumes:
      - ./state:/opt/mr-dj/state
    ports: ["8080:80", '9090:90']
  mr-dj-frontend:
    image: 127.0.0.1:5000/mr-dj-frontend:v1
    environment:
      - API_URL=http://backend:8080
      - LOG_LEVEL=info
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost"]
      interval: 10s
"""


def test_parses_mappings_lists_scalars_and_quotes():
    doc = parse_compose(V1)
    backend = doc["services"]["mr-dj-backend"]
    assert doc["version"] == "2.4"
    assert backend["image"] == "127.0.0.1:5000/mr-dj-backend:v1"  # comment stripped, colons kept
    assert backend["environment"] == {
        "NODE_ENV": "production",
        "DATABASE_URL": "postgres://app:s3cret-compose-pw@db/app",
    }
    assert backend["volumes"] == ["./state:/opt/mr-dj/state"]
    assert backend["ports"] == ["8080:80", "9090:90"]
    frontend = doc["services"]["mr-dj-frontend"]
    assert frontend["environment"] == ["API_URL=http://backend:8080", "LOG_LEVEL=info"]
    assert frontend["healthcheck"] == {"test": ["CMD", "curl", "-f", "http://localhost"], "interval": "10s"}


def test_list_of_mappings_and_same_indent_lists_and_block_scalars():
    text = """\
services:
  app:
    volumes:
    - type: bind
      source: ./data
      target: /data
    - ./logs:/logs
    command: |
      echo one

      echo two # not a comment inside a block scalar
    entrypoint: >
      run
      fast
    labels: {}
    extra: []
    empty:
  "quoted key": 'it''s'
  esc: "a\\"b\\n"
"""
    doc = parse_compose(text)
    app = doc["services"]["app"]
    assert app["volumes"] == [{"type": "bind", "source": "./data", "target": "/data"}, "./logs:/logs"]
    assert app["command"] == "echo one\n\necho two # not a comment inside a block scalar\n"
    assert app["entrypoint"] == "run fast\n"
    assert app["labels"] == {} and app["extra"] == [] and app["empty"] is None
    assert doc["services"]["quoted key"] == "it's"
    assert doc["services"]["esc"] == 'a"b\n'


def test_flow_map_and_nested_sequences():
    doc = parse_compose("a: {x: 1, y: 'two'}\nb:\n  - - 1\n    - 2\n  - 3\n")
    assert doc == {"a": {"x": 1, "y": "two"}, "b": [[1, 2], 3]}


REAL_WORLD = """\ufeff# a compose file written the way real projects write it
name: shop
x-logging: &logging
  logging: {driver: json-file, options: {max-size: "10m", max-file: "3"}}
x-app: &app
  <<: *logging
  restart: unless-stopped
  environment: &env
    NODE_ENV: production
    FEATURE: yes
services:
  web:
    <<: *app
    restart: always            # the service's own key wins over the merged one
    image: shop-web
    ports: [8080:80, "8443:443"]
    labels: {"team#a": ops, tier: front}   # '#' inside a flow-map key
    volumes:
      - type: volume
        source: data
        target: /srv/data
        read_only: true
    command: >-
      serve
      --port 80
    entrypoint: |-
      sh -c
      'exec "$@"'
    description: >
      first paragraph

      second paragraph
  worker:
    <<: *app
    environment:
      <<: *env
      QUEUE: jobs
volumes:
  data: {}
"""


def test_real_world_compose_file_reads_as_docker_reads_it():
    doc = parse_compose(REAL_WORLD)
    web, worker = doc["services"]["web"], doc["services"]["worker"]
    assert doc["name"] == "shop"
    assert web["logging"] == {"driver": "json-file", "options": {"max-size": "10m", "max-file": "3"}}
    assert web["restart"] == "always" and worker["restart"] == "unless-stopped"
    assert web["environment"]["FEATURE"] == "yes"  # YAML 1.2: not a boolean
    assert web["ports"] == ["8080:80", "8443:443"]  # not a base-60 number
    assert web["labels"] == {"team#a": "ops", "tier": "front"}
    assert web["volumes"] == [{"type": "volume", "source": "data", "target": "/srv/data", "read_only": True}]
    assert web["command"] == "serve --port 80"  # >- folds and strips
    assert web["entrypoint"] == "sh -c\n'exec \"$@\"'"  # |- keeps lines, strips the end
    assert web["description"] == "first paragraph\nsecond paragraph\n"  # > keeps a blank line as \\n
    assert worker["environment"] == {"NODE_ENV": "production", "FEATURE": "yes", "QUEUE": "jobs"}
    assert "x-app" in doc and doc["volumes"] == {"data": {}}


def test_compose_reset_and_override_tags_are_understood():
    doc = parse_compose("services:\n  a:\n    ports: !reset []\n    environment: !override {A: b}\n")
    assert doc["services"]["a"] == {"ports": None, "environment": {"A": "b"}}


@pytest.mark.parametrize(
    "text, reason",
    [
        ("svc:\n  image: *base\n", "undefined alias"),
        ("svc:\n  image: !secret x\n", "tag"),
        ("a: [1, [2]\n", "line "),
        ('a: "open\n  more\n', "line "),
        ("a:\n\tb: 1\n", "line "),
        ("a: 1\na: 2\n", "duplicate key"),
        ("a:\n    b: 1\n  c: 2\n", "line "),
        ("a: 1\n---\nb: 2\n", "more than one YAML document"),
    ],
)
def test_not_yaml_or_not_one_document_is_refused_with_a_line_number(text, reason):
    with pytest.raises(ComposeParseError) as info:
        parse_compose(text)
    assert reason in str(info.value)
    assert str(info.value).startswith("line ")


def test_merged_keys_overridden_by_own_keys_are_not_duplicates():
    doc = parse_compose("x: &x {a: 1, b: 2}\ny:\n  <<: *x\n  a: 3\n")
    assert doc["y"] == {"a": 3, "b": 2}


@pytest.mark.parametrize(
    "text",
    [
        'x:\n  SECRET: "hunter2-never-shown\n',
        "x:\n  SECRET: *hunter2-never-shown\n",
        "x:\n  SECRET: !hunter2-never-shown x\n",
        "x: {SECRET: hunter2-never-shown\n",
    ],
)
def test_yaml_errors_never_quote_the_file(text):
    with pytest.raises(ComposeParseError) as info:
        parse_compose(text)
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    "existing, chosen",
    [
        (["compose.yaml", "compose.override.yaml", "docker-compose.yml"], ["compose.yaml", "compose.override.yaml"]),
        (["compose.yml", "compose.override.yaml"], ["compose.yml", "compose.override.yaml"]),
        (["docker-compose.yml", "docker-compose.override.yml"], ["docker-compose.yml", "docker-compose.override.yml"]),
        (["docker-compose.yaml"], ["docker-compose.yaml"]),
        (["docker-compose.yml", "compose.override.yaml"], ["docker-compose.yml"]),  # not its override
        (["README.md"], []),
    ],
)
def test_default_compose_files_are_what_docker_compose_picks(existing, chosen):
    assert default_compose_files(existing) == chosen


def test_compose_file_env_uses_the_os_path_separator():
    import os

    assert compose_files_from_env(os.pathsep.join(["a.yml", "b/c.yml"])) == ["a.yml", "b/c.yml"]
    assert compose_files_from_env("") == [] and compose_files_from_env(None) == []


def test_merge_documents_layers_override_files():
    base = parse_compose("services:\n  web:\n    image: a\n    environment: {A: '1', B: '2'}\n")
    over = parse_compose("services:\n  web:\n    environment: {B: '3'}\n  extra:\n    image: x\n")
    merged = merge_documents([base, over])
    assert merged["services"]["web"] == {"image": "a", "environment": {"A": "1", "B": "3"}}
    assert merged["services"]["extra"] == {"image": "x"}


def test_errors_never_quote_the_line():
    with pytest.raises(ComposeParseError) as info:
        parse_compose('x:\n  SECRET: "hunter2-never-shown\n')
    assert "hunter2" not in str(info.value)


def test_flatten_gives_dotted_keys_and_digests_only():
    flat = flatten(parse_compose(V1))
    assert "services.mr-dj-backend.image" in flat
    assert "services.mr-dj-backend.environment.DATABASE_URL" in flat
    # "NAME=value" lists are compared as mappings, key by key.
    assert "services.mr-dj-frontend.environment.API_URL" in flat
    assert "services.mr-dj-frontend.healthcheck.interval" in flat
    assert "services.mr-dj-backend.volumes" in flat
    assert "s3cret-compose-pw" not in repr(flat)
    assert all(len(v) == 64 for v in flat.values())


def test_diff_names_added_removed_and_changed_keys():
    v2 = (
        V1.replace("mr-dj-backend:v1", "mr-dj-backend:v2")
        .replace("s3cret-compose-pw", "other-pw")
        .replace("      - LOG_LEVEL=info\n", "      - FEATURE_X=1\n")
        .replace("    init: true\n", "")
    )
    salt = b"fixed"
    changes = diff_flat(flatten(parse_compose(V1), salt), flatten(parse_compose(v2), salt))
    assert changes == [
        ("services.mr-dj-backend.environment.DATABASE_URL", "changed"),
        ("services.mr-dj-backend.image", "changed"),
        ("services.mr-dj-backend.init", "removed"),
        ("services.mr-dj-frontend.environment.FEATURE_X", "added"),
        ("services.mr-dj-frontend.environment.LOG_LEVEL", "removed"),
    ]


def test_same_document_differently_written_has_no_changes():
    reformatted = V1.replace('version: "2.4"', "version: '2.4'").replace(
        "    network_mode: host", "    network_mode: host   # same"
    )
    assert diff_flat(flatten(parse_compose(V1)), flatten(parse_compose(reformatted))) == []


def test_top_level_fallback_names_changed_blocks():
    old = "version: '3'\nservices:\n  a:\n    image: x\nx-anchor: &a\n  k: 1\n"
    new = "version: '3'\nservices:\n  a:\n    image: y\nx-anchor: &a\n  k: 1\nvolumes:\n  data:\n"
    assert diff_flat(top_level_blocks(old), top_level_blocks(new)) == [("services", "changed"), ("volumes", "added")]
