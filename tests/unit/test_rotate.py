"""Rotation's pure parts: the family and the next version's name, the swap in a spec."""

from __future__ import annotations

from swarmdeck.core.ops import rotate


def test_the_family_comes_from_the_labels_else_the_name():
    assert rotate.family_of("db_pw", {}) == ("db_pw", 1)
    assert rotate.family_of("db_pw-v3", {rotate.FAMILY: "db_pw", rotate.VERSION: "3"}) \
        == ("db_pw", 3)
    # a name that only looks versioned is its own family (nothing says otherwise)
    assert rotate.family_of("api-v2", {}) == ("api-v2", 1)


def test_the_next_name_skips_taken_ones():
    assert rotate.next_name("db_pw", 1, set()) == ("db_pw-v2", 2)
    assert rotate.next_name("db_pw", 1, {"db_pw-v2", "db_pw-v3"}) == ("db_pw-v4", 4)


def test_only_the_rotated_reference_moves_and_its_target_is_kept():
    spec = {"TaskTemplate": {"ContainerSpec": {"Secrets": [
        {"SecretID": "old", "SecretName": "pw",
         "File": {"Name": "pw", "UID": "0", "GID": "0", "Mode": 0o400}},
        {"SecretID": "other", "SecretName": "key", "File": {"Name": "key"}}]}}}
    out = rotate.swapped(spec, "secret", "old", "new", "pw-v2")
    first, second = out["TaskTemplate"]["ContainerSpec"]["Secrets"]
    assert first == {"SecretID": "new", "SecretName": "pw-v2",
                     "File": {"Name": "pw", "UID": "0", "GID": "0", "Mode": 0o400}}
    assert second["SecretID"] == "other"


def test_users_are_the_services_holding_the_object():
    services = [
        {"ID": "s1", "Spec": {"Name": "web", "TaskTemplate": {"ContainerSpec": {
            "Configs": [{"ConfigID": "c1"}]}}}},
        {"ID": "s2", "Spec": {"Name": "api", "TaskTemplate": {"ContainerSpec": {}}}},
        {"ID": "s3", "Spec": {"Name": "app", "TaskTemplate": {"ContainerSpec": {
            "Configs": [{"ConfigID": "c1"}, {"ConfigID": "c2"}]}}}}]
    assert rotate.users(services, "config", "c1") == [("s3", "app"), ("s1", "web")]
