import hashlib
import io
import shlex
import subprocess
import tarfile

import pytest

from console.commands import artifacts as a
from console.validate import UnsafeValue

H1 = "a" * 64
H2 = "b" * 64


def j(argv):
    return shlex.join(argv)


def test_extract_bundle_uses_safe_tar_flags():
    assert j(a.extract_bundle("/opt/artifacts", "v1", "/opt/mr-dj")) == (
        "tar -xzf /opt/artifacts/v1-compose.tar.gz -C /opt/mr-dj "
        "--no-same-owner --no-same-permissions --no-overwrite-dir"
    )


def test_list_bundle():
    assert j(a.list_bundle("/opt/artifacts", "2024.05.01-1")) == (
        "tar --numeric-owner -tvzf /opt/artifacts/2024.05.01-1-compose.tar.gz"
    )


def test_docker_load_pull_tag_push_inspect():
    assert j(a.docker_load("/opt/artifacts", "v1")) == "docker load -i /opt/artifacts/v1-images.tar"
    assert j(a.docker_pull("registry.example.com", "mr-dj-backend", "v1")) == (
        "docker pull registry.example.com/mr-dj-backend:v1"
    )
    assert j(a.docker_pull("127.0.0.1:5000", "mr-dj-backend", "v1")) == "docker pull 127.0.0.1:5000/mr-dj-backend:v1"
    assert j(a.docker_tag("mr-dj-backend:latest", "registry.example.com/mr-dj-backend:v2")) == (
        "docker tag mr-dj-backend:latest registry.example.com/mr-dj-backend:v2"
    )
    assert j(a.docker_push("registry.example.com/mr-dj-backend:v2")) == (
        "docker push registry.example.com/mr-dj-backend:v2"
    )
    assert j(a.docker_image_inspect(["mr-dj-backend:v1", "127.0.0.1:5000/mr-dj-frontend:v1"])) == (
        "docker image inspect mr-dj-backend:v1 127.0.0.1:5000/mr-dj-frontend:v1"
    )


def test_checksum_commands():
    assert j(a.sha256sum(["/opt/artifacts/v1-compose.tar.gz", "/opt/artifacts/v1-images.tar"])) == (
        "sha256sum -- /opt/artifacts/v1-compose.tar.gz /opt/artifacts/v1-images.tar"
    )
    assert j(a.read_sha256sums("/opt/artifacts")) == "cat -- /opt/artifacts/SHA256SUMS.txt"


@pytest.mark.parametrize("bad_tag", ["v1;touch /tmp/pwned", "v1\n", "../x", "v\u0661", "", "-v1", "v1 v2", "$(id)"])
def test_tags_are_validated_everywhere(bad_tag):
    for build in (
        lambda: a.extract_bundle("/opt/artifacts", bad_tag, "/opt/mr-dj"),
        lambda: a.list_bundle("/opt/artifacts", bad_tag),
        lambda: a.docker_load("/opt/artifacts", bad_tag),
        lambda: a.docker_pull("registry.example.com", "mr-dj-backend", bad_tag),
    ):
        with pytest.raises(UnsafeValue, match="release tag"):
            build()


@pytest.mark.parametrize("bad_dir", ["opt/artifacts", "/opt/../etc", "/opt/art facts", "/opt/a;id", "", "/opt/a\n"])
def test_directories_are_validated(bad_dir):
    with pytest.raises(UnsafeValue, match="directory"):
        a.extract_bundle(bad_dir, "v1", "/opt/mr-dj")
    with pytest.raises(UnsafeValue, match="directory"):
        a.extract_bundle("/opt/artifacts", "v1", bad_dir)
    with pytest.raises(UnsafeValue, match="directory"):
        a.read_sha256sums(bad_dir)


@pytest.mark.parametrize("bad_ref", ["Mr-DJ:v1", "x:v1;id", "x:v1\n", "", "-x", "x y", "reg.example.com/x:../v1"])
def test_image_references_are_validated(bad_ref):
    with pytest.raises(UnsafeValue, match="image reference"):
        a.docker_push(bad_ref)
    with pytest.raises(UnsafeValue, match="image reference"):
        a.docker_tag(bad_ref, "x:v1")


def test_registry_and_image_are_validated():
    with pytest.raises(UnsafeValue, match="registry"):
        a.docker_pull("https://registry.example.com", "mr-dj-backend", "v1")
    with pytest.raises(UnsafeValue, match="image name"):
        a.docker_pull("registry.example.com", "Mr-DJ", "v1")


def test_empty_lists_are_refused():
    with pytest.raises(UnsafeValue):
        a.sha256sum([])
    with pytest.raises(UnsafeValue):
        a.docker_image_inspect([])
    with pytest.raises(UnsafeValue, match="file"):
        a.sha256sum(["relative.tar"])


# -- SHA256SUMS.txt ---------------------------------------------------------------------------


def test_parse_sha256sums_text_binary_and_paths():
    text = f"{H1}  artifacts/v1-compose.tar.gz\n{H2.upper()} *v1-images.tar\n\n# a comment\nnot a checksum line\n"
    assert a.parse_sha256sums(text) == {"v1-compose.tar.gz": [H1], "v1-images.tar": [H2]}


def test_parse_sha256sums_keeps_duplicates_in_order():
    text = f"{H1}  artifacts/v2-compose.tar.gz\n{H2}  artifacts/v2-compose.tar.gz\n{H1}  v2-compose.tar.gz\n"
    assert a.parse_sha256sums(text) == {"v2-compose.tar.gz": [H1, H2, H1]}


def test_parse_sha256sums_escaped_names_and_crlf():
    text = f"\\{H1}  dir/a\\\\b.tar\r\n{H2}  c.tar\r\n"
    assert a.parse_sha256sums(text) == {"a\\b.tar": [H1], "c.tar": [H2]}


def test_parse_sha256sums_refuses_short_hashes():
    assert a.parse_sha256sums("abc123  v1-compose.tar.gz\n") == {}


def test_parse_real_sha256sum_output(tmp_path):
    (tmp_path / "v1-compose.tar.gz").write_bytes(b"bundle")
    (tmp_path / "sp ace.tar").write_bytes(b"")
    out = subprocess.run(
        ["sha256sum", "v1-compose.tar.gz", "sp ace.tar"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout
    sums = a.parse_sha256sums(out)
    assert sums["v1-compose.tar.gz"] == [hashlib.sha256(b"bundle").hexdigest()]
    assert sums["sp ace.tar"] == ["e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"]


def test_checksum_problem():
    listed = a.parse_sha256sums(
        f"{H1}  artifacts/v1-compose.tar.gz\n{H1}  v1-compose.tar.gz\n"
        f"{H1}  v2-compose.tar.gz\n{H2}  v2-compose.tar.gz\n"
    )
    assert a.checksum_problem("v1-compose.tar.gz", listed, {"v1-compose.tar.gz": [H1]}) is None
    assert "sha256" in a.checksum_problem("v1-compose.tar.gz", listed, {"v1-compose.tar.gz": [H2]})
    assert "different hashes" in a.checksum_problem("v2-compose.tar.gz", listed, {"v2-compose.tar.gz": [H1]})
    assert "not listed" in a.checksum_problem("v3-compose.tar.gz", listed, {"v3-compose.tar.gz": [H1]})
    assert "could not be checksummed" in a.checksum_problem("v1-compose.tar.gz", listed, {})


# -- Bundle listing ---------------------------------------------------------------------------


def _bundle(tmp_path, members):
    path = tmp_path / "b.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _info(name, kind=tarfile.REGTYPE, size=0, link=""):
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname, info.mtime = kind, size, link, 1714560000
    return info


def test_parse_bundle_listing_from_real_gnu_tar(tmp_path):
    path = _bundle(
        tmp_path,
        [
            (_info("docker-compose.yml", size=3), b"a: "),
            (_info("backend", tarfile.DIRTYPE), None),
            (_info("backend/.env", size=2), b"K="),
            (_info("docs/with space.md"), b""),
            (_info("evil", tarfile.SYMTYPE, link="/etc/passwd"), None),
            (_info("hard", tarfile.LNKTYPE, link="docker-compose.yml"), None),
            (_info("../escape"), b""),
            (_info("fifo", tarfile.FIFOTYPE), None),
        ],
    )
    out = subprocess.run(["tar", "-tvzf", str(path)], capture_output=True, text=True, check=True).stdout
    members = a.parse_bundle_listing(out)
    assert [(m.kind, m.name, m.link_target) for m in members] == [
        ("-", "docker-compose.yml", None),
        ("d", "backend/", None),
        ("-", "backend/.env", None),
        ("-", "docs/with space.md", None),
        ("l", "evil", "/etc/passwd"),
        ("h", "hard", "docker-compose.yml"),
        ("-", "../escape", None),
        ("p", "fifo", None),
    ]
    problems = a.unsafe_members(members)
    assert len(problems) == 4
    assert any("evil" in p and "/etc/passwd" in p for p in problems)
    assert any("../escape" in p for p in problems)
    assert any("fifo" in p for p in problems)


def test_a_plain_bundle_is_safe():
    listing = (
        "-rw-r--r-- root/root       120 2024-05-01 12:00 docker-compose.yml\n"
        "drwxr-xr-x root/root         0 2024-05-01 12:00 backend/\n"
        "-rw------- root/root        40 2024-05-01 12:00 backend/.env\n"
    )
    assert a.unsafe_members(a.parse_bundle_listing(listing)) == []
    assert a.unsafe_members(a.parse_bundle_listing("-rw-r--r-- 0/0 1 2024-05-01 12:00 /etc/cron.d/x\n"))


def test_a_listing_line_that_cannot_be_read_refuses_the_bundle():
    # an owner name with a space once hid a symlink "backend -> /etc" from the parser
    listing = (
        "-rw-r--r-- 0/0       120 2024-05-01 12:00 docker-compose.yml\n"
        "lrwxrwxrwx a b/root     0 2024-05-01 12:00 backend -> /etc\n"
    )
    problems = a.unsafe_members(a.parse_bundle_listing(listing))
    assert len(problems) == 1 and "unreadable listing line" in problems[0] and "backend -> /etc" in problems[0]


def test_numeric_owners_keep_odd_owner_names_out_of_the_listing(tmp_path):
    info = _info("backend", tarfile.SYMTYPE, link="/etc")
    info.uname, info.uid = "a b", 1234
    path = _bundle(tmp_path, [(_info("docker-compose.yml", size=3), b"a: "), (info, None)])
    out = subprocess.run(
        a.list_bundle(str(tmp_path), "t")[:-1] + [str(path)], capture_output=True, text=True, check=True
    ).stdout
    problems = a.unsafe_members(a.parse_bundle_listing(out))
    assert problems == ["backend: link to /etc (links are not expected in a compose bundle)"]


def test_extract_bundle_member_takes_one_plain_relative_file():
    from console.commands.artifacts import extract_bundle_member

    assert extract_bundle_member("/opt/artifacts", "v3", "/opt/mr-dj-staging", "docker-compose.yml") == [
        "tar",
        "-xzf",
        "/opt/artifacts/v3-compose.tar.gz",
        "-C",
        "/opt/mr-dj-staging",
        "--no-same-owner",
        "--no-same-permissions",
        "--no-overwrite-dir",
        "--",
        "docker-compose.yml",
    ]
    for bad in ("/etc/passwd", "../x.yml", "-xf", "a b.yml", "", "x\n.yml"):
        with pytest.raises(UnsafeValue):
            extract_bundle_member("/opt/artifacts", "v3", "/opt/mr-dj-staging", bad)
