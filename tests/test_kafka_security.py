"""Kafka security settings (SPEC section 3): consistency, the password's sources, TLS contexts.

The certificates are real ones made by ``sandbox/kafka.sh certs`` (openssl); the broker-side
behaviour is in ``tests/integration/test_kafka_security.py``.
"""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path
from typing import Any

import pytest

from consumer.config import KafkaSettings, kafka_password
from consumer.errors import ConfigError
from consumer.intake import kafka_security
from sandbox.kafka_broker import SCRIPT

SASL_SSL = {
    "security_protocol": "SASL_SSL",
    "sasl_mechanism": "SCRAM-SHA-512",
    "sasl_username": "classter",
}


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("tls")
    subprocess.run([str(SCRIPT), "certs", str(where)], check=True, capture_output=True)
    return where


def kafka(**fields: Any) -> KafkaSettings:
    return KafkaSettings.model_validate(fields)


def problem_of(**fields: Any) -> str:
    with pytest.raises(ValueError) as caught:  # pydantic.ValidationError is one
        kafka(**fields)
    return str(caught.value)


# -- consistency ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"ssl_cafile": "/ca.pem"}, "kafka.ssl_cafile"),
        ({"sasl_username": "classter"}, "kafka.sasl_username"),
        (
            {**SASL_SSL, "security_protocol": "SASL_PLAINTEXT", "ssl_cafile": "/ca.pem"},
            "ssl_cafile",
        ),
        ({"security_protocol": "SSL", "sasl_mechanism": "PLAIN"}, "kafka.sasl_mechanism"),
    ],
)
def test_a_security_key_the_protocol_does_not_use_is_an_error(
    fields: dict[str, Any], named: str
) -> None:
    problem = problem_of(**fields)

    assert named in problem
    assert "not used with security_protocol" in problem


def test_a_client_key_without_its_certificate_is_an_error() -> None:
    assert "kafka.ssl_keyfile: needs kafka.ssl_certfile" in problem_of(
        security_protocol="SSL", ssl_keyfile="/client.key"
    )


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_every_sasl_mechanism_is_accepted_over_plaintext_and_tls(
    protocol: str, mechanism: str
) -> None:
    settings = kafka(security_protocol=protocol, sasl_mechanism=mechanism, sasl_username="u")

    assert (settings.security_protocol, settings.sasl_mechanism) == (protocol, mechanism)


def test_an_unknown_sasl_mechanism_is_an_error() -> None:
    assert "sasl_mechanism" in problem_of(**{**SASL_SSL, "sasl_mechanism": "GSSAPI"})


# -- the password ----------------------------------------------------------------------------


def test_the_password_comes_from_the_environment_first(tmp_path: Path) -> None:
    file = tmp_path / "password"
    file.write_text("from-file\n")
    settings = kafka(**SASL_SSL, sasl_password_file=file)

    assert kafka_password(settings, {"KAFKA_SASL_PASSWORD": "from-env"}) == "from-env"
    assert kafka_password(settings, {}) == "from-file"


def test_sasl_without_a_password_is_a_config_error_that_names_where_to_put_it() -> None:
    with pytest.raises(ConfigError) as caught:
        kafka_password(kafka(**SASL_SSL), {})

    (problem,) = caught.value.problems
    assert "KAFKA_SASL_PASSWORD or kafka.sasl_password_file" in problem


def test_no_password_is_read_without_sasl() -> None:
    assert kafka_password(kafka(), {"KAFKA_SASL_PASSWORD": "unused"}) is None


# -- aiokafka arguments ----------------------------------------------------------------------


def test_plaintext_needs_nothing_but_the_protocol() -> None:
    assert kafka_security(kafka(), None) == {"security_protocol": "PLAINTEXT"}


def test_sasl_ssl_gives_a_verifying_tls_context_and_the_credentials(certs: Path) -> None:
    args = kafka_security(kafka(**SASL_SSL, ssl_cafile=certs / "ca.pem"), "pw")

    context = args["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    (ca,) = context.get_ca_certs()
    assert "classter-hubspot test CA" in str(ca["subject"])
    assert args["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (args["sasl_plain_username"], args["sasl_plain_password"]) == ("classter", "pw")


def test_hostname_checks_can_be_turned_off_but_not_certificate_checks(certs: Path) -> None:
    settings = kafka(security_protocol="SSL", ssl_cafile=certs / "ca.pem", ssl_check_hostname=False)
    context = kafka_security(settings, None)["ssl_context"]

    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname is False
    assert context.verify_mode == ssl.CERT_REQUIRED


def test_a_client_certificate_is_loaded_for_mutual_tls(certs: Path) -> None:
    settings = kafka(
        security_protocol="SSL",
        ssl_cafile=certs / "ca.pem",
        ssl_certfile=certs / "client.crt",
        ssl_keyfile=certs / "client.key",
    )

    assert isinstance(kafka_security(settings, None)["ssl_context"], ssl.SSLContext)


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"ssl_cafile": "missing-ca.pem"}, "kafka.ssl_cafile: cannot load"),
        ({"ssl_cafile": "client.key"}, "kafka.ssl_cafile: cannot load"),
        (
            {"ssl_cafile": "ca.pem", "ssl_certfile": "client.crt", "ssl_keyfile": "broker.key"},
            "kafka.ssl_certfile/ssl_keyfile: cannot load",
        ),
    ],
)
def test_a_tls_file_that_cannot_be_loaded_is_a_config_error_naming_the_key(
    certs: Path, fields: dict[str, str], named: str
) -> None:
    settings = kafka(security_protocol="SSL", **{k: certs / v for k, v in fields.items()})

    with pytest.raises(ConfigError) as caught:
        kafka_security(settings, None)

    (problem,) = caught.value.problems
    assert problem.startswith(named)


def test_sasl_without_a_password_never_reaches_the_client() -> None:
    with pytest.raises(ConfigError, match="KAFKA_SASL_PASSWORD"):
        kafka_security(kafka(**{**SASL_SSL, "security_protocol": "SASL_PLAINTEXT"}), None)
