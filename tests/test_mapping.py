"""Model and Custom Mapping, and coercion to HubSpot types (SPEC sections 4 and 10)."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumer.config import ContactAction, DealAction
from consumer.errors import EventRejectedError
from consumer.mapping import (
    CONTACT_MODEL,
    DEAL_MODEL,
    MAX_STRING,
    PropertySpec,
    coerce,
    joined,
    lookup,
    map_properties,
    table,
)
from tests.factories import PROPERTY, decoded, registration_event, student_event


def spec(name: str, kind: str = "string", **more: Any) -> PropertySpec:
    return PropertySpec(name=name, type=kind, **more)


CONTACT_SCHEMA = {
    s.name: s
    for s in (
        spec("email"),
        spec("firstname"),
        spec("lastname"),
        spec("mobilephone", "phone_number"),
        spec("date_of_birth", "date", field_type="date"),
        spec(
            "gender",
            "enumeration",
            field_type="select",
            options=frozenset({"Female", "Male", "Other"}),
        ),
        spec("classter_student_status"),
        spec("classter_external_id"),
        spec("scholarship"),
        spec("school_year", "number"),
    )
}
DEAL_SCHEMA = {
    s.name: s
    for s in (
        spec("dealname"),
        spec("classter_program"),
        spec("classter_stream"),
        spec("classter_academic_period"),
        spec("classter_location"),
        spec("classter_registration_status"),
        spec("classter_start_date", "date", field_type="date"),
        spec("classter_end_date", "date", field_type="date"),
        spec("description"),
    )
}


def contact(action: ContactAction, source: dict[str, Any]) -> dict[str, str]:
    return map_properties(table(CONTACT_MODEL, action), source, CONTACT_SCHEMA)


def custom(*entries: tuple[str, list[str]], model: bool = True) -> ContactAction:
    return ContactAction.model_validate(
        {
            "model_mapping": model,
            "custom_mapping": [{"hubspot": h, "classter": c} for h, c in entries],
        }
    )


def rejected_reason(kind: str, value: object, **more: Any) -> str:
    with pytest.raises(EventRejectedError) as caught:
        coerce(spec("p", kind, **more), value)
    return caught.value.reason


# -- model mapping --------------------------------------------------------------------------------


def test_the_contact_model_maps_the_spec_sample() -> None:
    source = decoded(student_event()).student_source

    assert contact(ContactAction(), source) == {
        "email": "maria.example@example.org",
        "firstname": "Maria",
        "lastname": "Example",
        "mobilephone": "+30 690 000 0000",
        "date_of_birth": "2008-04-12",
        "gender": "Female",
        "classter_student_status": "Registered",
        "classter_external_id": "SIS-991",
    }


def test_the_contact_model_covers_the_spec_table() -> None:
    # classter_student_id is not a Classter field: the pipeline adds tenant:id to every write
    assert set(CONTACT_MODEL) == {
        "email",
        "firstname",
        "lastname",
        "mobilephone",
        "date_of_birth",
        "gender",
        "classter_student_status",
        "classter_external_id",
    }


def test_the_deal_model_maps_the_spec_sample() -> None:
    source = decoded(registration_event()).source

    props = map_properties(table(DEAL_MODEL, DealAction()), source, DEAL_SCHEMA)

    assert props == {
        "dealname": "Maria Example - Grade 10 - 2026-2027",
        "classter_program": "Grade 10",
        "classter_stream": "Science",
        "classter_academic_period": "2026-2027",
        "classter_location": "Main Campus",
        "classter_registration_status": "Registered",
        "classter_start_date": "2026-09-10",
        "classter_end_date": "2027-06-20",
    }


def test_the_deal_model_covers_the_spec_table() -> None:
    # pipeline, dealstage and classter_deal_code come from the rules and the pipeline
    assert set(DEAL_MODEL) == {
        "dealname",
        "classter_program",
        "classter_stream",
        "classter_academic_period",
        "classter_location",
        "classter_registration_status",
        "classter_start_date",
        "classter_end_date",
    }


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        ({"program": None}, "Maria Example - 2026-2027"),
        ({"program": None, "academicPeriod": None}, "Maria Example"),
        ({"student": {"id": 2637, "surname": "Example"}}, "Example - Grade 10 - 2026-2027"),
        ({"student": {"id": 2637}}, "Grade 10 - 2026-2027"),
    ],
)
def test_the_deal_name_drops_the_parts_it_lacks(fields: dict[str, Any], name: str) -> None:
    source = decoded(registration_event(**fields)).source

    assert map_properties({"dealname": DEAL_MODEL["dealname"]}, source, DEAL_SCHEMA) == {
        "dealname": name
    }


def test_a_deal_with_nothing_to_name_it_by_writes_no_name() -> None:
    source = {"id": 1, "student": {"id": 2}}

    assert map_properties({"dealname": DEAL_MODEL["dealname"]}, source, DEAL_SCHEMA) == {}


@pytest.mark.parametrize(
    "raw", [" Maria.Example@Example.ORG ", "MARIA.EXAMPLE@EXAMPLE.ORG", "maria.example@example.org"]
)
def test_the_model_email_is_normalised(raw: str) -> None:
    assert contact(ContactAction(), {"email": raw})["email"] == "maria.example@example.org"


@pytest.mark.parametrize("raw", [None, "", "   ", 12, ["a@b.org"]])
def test_a_model_email_that_is_not_text_writes_nothing(raw: object) -> None:
    assert "email" not in contact(ContactAction(), {"email": raw})


# -- custom mapping -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("middle", "firstname"),
    [
        ("Eleni", "Maria Eleni"),
        ("", "Maria"),
        ("   ", "Maria"),
        (None, "Maria"),
        ("  Eleni  ", "Maria Eleni"),
    ],
)
def test_custom_fields_are_joined_by_one_space_and_empty_parts_dropped(
    middle: str | None, firstname: str
) -> None:
    action = custom(("firstname", ["givenName", "middleName"]))

    props = contact(action, {"givenName": "Maria", "middleName": middle})

    assert props["firstname"] == firstname


@given(st.lists(st.none() | st.text(alphabet=" ab\t", max_size=4), min_size=1, max_size=5))
@PROPERTY
def test_joining_keeps_every_non_blank_part_in_order(parts: list[str | None]) -> None:
    source = {f"f{n}": p for n, p in enumerate(parts)}
    paths = [f"f{n}" for n in range(len(parts))]

    value = joined(*paths)(source)

    kept = [p.strip() for p in parts if p is not None and p.strip()]
    assert value == (" ".join(kept) if kept else None)


def test_a_custom_entry_overrides_the_model_entry_for_the_same_property() -> None:
    action = custom(("firstname", ["givenName", "middleName"]))

    props = contact(action, decoded(student_event()).student_source)

    assert props["firstname"] == "Maria Eleni"
    assert props["lastname"] == "Example"  # the rest of the model stays


def test_without_the_model_only_custom_entries_are_written() -> None:
    action = custom(
        ("email", ["email"]), ("scholarship", ["customFields.customFieldTxt1"]), model=False
    )

    props = contact(action, decoded(student_event()).student_source)

    assert props == {"email": "maria.example@example.org", "scholarship": "Scholarship"}


def test_a_custom_email_is_normalised_like_the_model_one() -> None:
    action = custom(("email", ["customFields.workEmail"]), model=False)

    props = contact(action, {"customFields": {"workEmail": "  Maria@Work.Example.ORG "}})

    assert props == {"email": "maria@work.example.org"}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("customFields.customFieldTxt1", "Scholarship"),
        ("status", "Registered"),  # an object with a description gives its description
        ("status.description", "Registered"),
        ("status.id", 1),
        ("customFields.missing", None),
        ("missing.deeper.still", None),
        ("givenName.first", None),  # a path through a plain value
        ("customFields", None),  # an object without a description
    ],
)
def test_a_custom_source_is_a_dotted_path(path: str, value: object) -> None:
    source = decoded(student_event()).student_source

    assert lookup(source, path) == value


def test_deal_paths_are_relative_to_the_registration() -> None:
    action = DealAction.model_validate(
        {
            "model_mapping": False,
            "custom_mapping": [
                {"hubspot": "description", "classter": ["student.surname", "program", "stream.id"]}
            ],
        }
    )
    source = decoded(registration_event()).source

    props = map_properties(table(DEAL_MODEL, action), source, DEAL_SCHEMA)

    assert props == {"description": "Example Grade 10 77"}


def test_contact_paths_of_a_registration_are_relative_to_its_student_snapshot() -> None:
    event = decoded(registration_event())

    props = contact(custom(("lastname", ["surname"])), event.student_source)

    assert props["lastname"] == "Example"


def test_an_unknown_field_of_the_raw_event_can_be_mapped() -> None:
    event = decoded(student_event(nickname="Mari"))

    props = contact(custom(("firstname", ["nickname"])), event.student_source)

    assert props["firstname"] == "Mari"


@pytest.mark.parametrize(
    ("value", "text"),
    [(True, "true"), (False, "false"), (12, "12"), (-3, "-3"), (2.5, "2.5"), ([1, 2], None)],
)
def test_non_text_sources_are_rendered_as_hubspot_text(value: object, text: str | None) -> None:
    assert joined("v")({"v": value}) == text


# -- absent and null ------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "  "])
def test_an_absent_null_or_blank_source_writes_nothing(value: object) -> None:
    source = decoded(student_event()).student_source | {"surname": value, "gender": value}

    props = contact(ContactAction(), source)

    assert "lastname" not in props
    assert "gender" not in props
    assert props["firstname"] == "Maria"


def test_a_student_with_only_an_id_writes_nothing() -> None:
    assert contact(ContactAction(), {"id": 2637}) == {}


def test_a_present_value_for_a_property_hubspot_lacks_is_rejected() -> None:
    action = custom(("favourite_colour", ["givenName"]))

    with pytest.raises(EventRejectedError) as caught:
        contact(action, {"givenName": "Maria"})

    assert caught.value.reason == "property_doesnt_exist"
    assert "favourite_colour" in str(caught.value)


def test_an_absent_value_for_a_property_hubspot_lacks_writes_nothing() -> None:
    action = custom(("favourite_colour", ["colour"]))

    assert contact(action, {"givenName": "Maria"}) == {"firstname": "Maria"}


# -- coercion: dates ------------------------------------------------------------------------------


@given(st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 12, 31)))
@PROPERTY
def test_a_date_is_written_as_the_same_calendar_day(day: dt.date) -> None:
    assert coerce(spec("d", "date"), day.isoformat()) == day.isoformat()
    assert coerce(spec("d", "date"), day) == day.isoformat()
    assert coerce(spec("d", "datetime"), day.isoformat()) == f"{day.isoformat()}T00:00:00.000Z"


def test_a_date_of_birth_is_never_shifted_by_a_time_zone() -> None:
    # 2008-04-12 is the 12th everywhere, however far from UTC the portal or the daemon is
    props = contact(ContactAction(), {"dateOfBirth": "2008-04-12"})

    assert props["date_of_birth"] == "2008-04-12"


@pytest.mark.parametrize(
    "value",
    ["12/04/2008", "2008-4-12", "2008-04-12T00:00:00", "2008-02-30", "2008-13-01", "", "soon", 5],
)
def test_a_value_that_is_not_a_calendar_date_is_rejected(value: object) -> None:
    assert rejected_reason("date", value) == "invalid_date"


# -- coercion: numbers ----------------------------------------------------------------------------


@given(st.integers() | st.decimals(allow_nan=False, allow_infinity=False, places=3))
@PROPERTY
def test_a_number_is_written_without_separators_or_exponent(number: object) -> None:
    text = coerce(spec("n", "number"), str(number))

    assert re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text)
    assert float(text) == float(str(number))


@pytest.mark.parametrize(
    ("value", "text"),
    [("1,234", "1234"), ("1 234 567", "1234567"), (42, "42"), (-7, "-7"), (2.5, "2.5"), ("0", "0")],
)
def test_number_examples(value: object, text: str) -> None:
    assert coerce(spec("n", "number"), value) == text


@pytest.mark.parametrize(
    "value", ["twelve", "", "1.", ".5", "1e3", "--1", "1.2.3", True, False, "\u0661\u0662", "12\n"]
)
def test_a_value_that_is_not_a_plain_decimal_is_rejected(value: object) -> None:
    assert rejected_reason("number", value) == "invalid_number"


@given(st.text(max_size=12))
@PROPERTY
def test_any_text_is_either_rejected_or_written_as_an_ascii_decimal(value: str) -> None:
    try:
        text = coerce(spec("n", "number"), value)
    except EventRejectedError as exc:
        assert exc.reason == "invalid_number"
    else:
        assert re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", text), text


# -- coercion: enumerations and booleans ----------------------------------------------------------


def test_an_enumeration_value_equal_to_an_option_value_is_written() -> None:
    assert coerce(spec("g", "enumeration", options=frozenset({"Female", "Male"})), "Female") == (
        "Female"
    )


@pytest.mark.parametrize("value", ["female", "Female ", "F", "", "Unknown"])
def test_an_enumeration_value_without_an_option_is_a_per_event_rejection(value: str) -> None:
    options = frozenset({"Female", "Male"})

    assert rejected_reason("enumeration", value, options=options) == "invalid_option"


def test_an_unknown_option_in_a_mapping_rejects_the_event_not_the_daemon() -> None:
    with pytest.raises(EventRejectedError) as caught:
        contact(ContactAction(), {"gender": "Nonbinary"})

    assert caught.value.reason == "invalid_option"
    assert caught.value.error_class == "rejected"
    assert "Nonbinary" not in str(caught.value)


def test_a_checkbox_enumeration_takes_several_options() -> None:
    checkbox = spec("c", "enumeration", field_type="checkbox", options=frozenset({"a", "b"}))

    assert coerce(checkbox, "a; b") == "a;b"
    with pytest.raises(EventRejectedError):
        coerce(checkbox, "a;c")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("true", "true"),
        ("Yes", "true"),
        (True, "true"),
        (1, "true"),
        ("no", "false"),
        (False, "false"),
    ],
)
def test_a_boolean_is_written_as_true_or_false(value: object, text: str) -> None:
    assert coerce(spec("b", "bool"), value) == text


def test_a_value_that_is_not_a_boolean_is_rejected() -> None:
    assert rejected_reason("bool", "maybe") == "invalid_option"


# -- coercion: strings ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("length", "kept"),
    [(MAX_STRING - 1, MAX_STRING - 1), (MAX_STRING, MAX_STRING), (MAX_STRING + 1, MAX_STRING)],
)
def test_a_string_is_cut_at_65536_code_points_without_a_marker(length: int, kept: int) -> None:
    value = "\U0001f600" * length  # one code point, two UTF-16 units, four UTF-8 bytes

    text = coerce(spec("s"), value)

    assert MAX_STRING == 65_536
    assert len(text) == kept
    assert text == value[:kept]


@given(st.text(min_size=1, max_size=20))
@PROPERTY
def test_a_short_string_is_written_as_is(value: str) -> None:
    assert coerce(spec("s"), value) == value
    assert coerce(spec("s", "phone_number"), value) == value


def test_a_long_string_from_a_mapping_is_cut() -> None:
    props = contact(custom(("scholarship", ["note"])), {"note": "x" * (MAX_STRING + 10)})

    assert len(props["scholarship"]) == MAX_STRING


# -- what the portal check reads: the fields behind each property and their kinds ---------------
@pytest.mark.parametrize(
    ("root", "path", "kind"),
    [
        ("student", "id", "number"),
        ("student", "givenName", "text"),
        ("student", "dateOfBirth", "date"),
        ("student", "status", "lookup"),
        ("student", "status.description", "text"),
        ("student", "customFields", "object"),
        ("student", "customFields.customFieldTxt1", "open"),
        ("student", "nickName", "unknown"),
        ("student", "givenName.first", "unknown"),
        ("registration", "globalCode", "number"),
        ("registration", "program", "lookup"),
        ("registration", "semesters", "list"),
        ("registration", "fromReRegistration", "bool"),
        ("registration", "student.surname", "text"),
        ("registration", "student.customFields.x", "open"),
    ],
)
def test_source_kind_reads_the_event_contract(root: str, path: str, kind: str) -> None:
    from consumer.events import Registration, Student  # noqa: PLC0415
    from consumer.mapping import source_kind  # noqa: PLC0415

    assert source_kind(Student if root == "student" else Registration, path) == kind


def test_the_model_tables_are_built_from_the_sources_the_check_reads() -> None:
    from consumer.mapping import (  # noqa: PLC0415
        CONTACT_MODEL,
        CONTACT_SOURCES,
        DEAL_MODEL,
        DEAL_SOURCES,
        sources,
    )

    assert list(CONTACT_MODEL) == list(CONTACT_SOURCES)
    assert list(DEAL_MODEL) == list(DEAL_SOURCES)
    action = ContactAction.model_validate(
        {"custom_mapping": [{"hubspot": "firstname", "classter": ["a", "b"]}]}
    )
    assert sources(CONTACT_SOURCES, action)["firstname"] == ("a", "b")
    assert sources(CONTACT_SOURCES, ContactAction(model_mapping=False)) == {}
