"""Forms from marshmallow schemas: the same schema validates the API and the web form."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from marshmallow import Schema, fields, validate
from werkzeug.datastructures import MultiDict

# Input types for marshmallow field classes (first match wins, so subclasses come first).
_INPUT_TYPES: tuple[tuple[type[fields.Field], str], ...] = (
    (fields.Email, "email"),
    (fields.Url, "url"),
    (fields.Boolean, "checkbox"),
    (fields.AwareDateTime, "datetime-local"),
    (fields.DateTime, "datetime-local"),
    (fields.Date, "date"),
    (fields.Integer, "number"),
    (fields.Decimal, "number"),
    (fields.Float, "number"),
    (fields.Number, "number"),
)

# A choices provider: called when the form is built (inside the request, so it sees the
# current tenant), it returns (value, label) pairs, e.g. the records a reference may name.
Choices = Callable[[], Sequence[tuple[str, str]]]


@dataclass
class FormField:
    """One input of a generated form, with what the user typed and its error messages."""

    name: str
    label: str
    input_type: str = "text"
    required: bool = False
    choices: Sequence[tuple[str, str]] = ()
    value: str = ""
    # A list field drawn as a checkbox group: the values ticked.
    values: list[str] = field(default_factory=list)
    multiple: bool = False
    checked: bool = False
    help: str = ""
    step: str | None = None
    errors: list[str] = field(default_factory=list)
    # Shown but not editable (a code fixed once the record exists); `note` says why.
    readonly: bool = False
    note: str = ""

    @property
    def widget(self) -> str:
        """Which control the template draws: input, checkbox, checkboxes, select or textarea."""
        if self.multiple:
            return "checkboxes"
        if self.choices or self.input_type == "select":
            return "select"
        if self.input_type in ("checkbox", "textarea"):
            return self.input_type
        return "input"


def _label(name: str, f: fields.Field) -> str:
    if f.metadata.get("label"):
        return str(f.metadata["label"])
    if isinstance(f, fields.UUID) and name.endswith("_id"):
        name = name[: -len("_id")]  # a reference is labelled by what it names: "Owner"
    return name.replace("_", " ").capitalize()


def _input_type(f: fields.Field) -> str:
    if f.metadata.get("widget") == "textarea":
        return "textarea"
    for cls, kind in _INPUT_TYPES:
        if isinstance(f, cls):
            return kind
    return "text"


def _choices(f: fields.Field) -> list[tuple[str, str]]:
    """Choices from a OneOf validator (labels from its `labels`, else the values)."""
    validators = f.validators if isinstance(f.validators, (list, tuple)) else []
    for v in validators:
        if isinstance(v, validate.OneOf):
            labels = list(v.labels) if v.labels else [str(c) for c in v.choices]
            return [(str(c), str(lbl)) for c, lbl in zip(v.choices, labels, strict=False)]
    return []


def unsupported(f: fields.Field) -> str | None:
    """Why the form generator cannot draw `f` (a nested record or a list of anything but
    choices), or None when it can."""
    if isinstance(f, fields.Nested) or (
        isinstance(f, fields.List) and isinstance(f.inner, fields.Nested)
    ):
        return "nested records need a page of their own"
    if isinstance(f, fields.List) and not _choices(f.inner):
        return "a list is drawn only when its items have a OneOf validator"
    if isinstance(f, (fields.Dict, fields.Tuple)):
        return "mappings and tuples have no form control"
    return None


def _provided(f: fields.Field, choices: Mapping[str, Choices], name: str) -> Choices | None:
    """The choices provider of a field: the view's `choices=` first, then its metadata."""
    provider = choices.get(name) or f.metadata.get("choices")
    return provider if callable(provider) else None


def form_fields(
    schema: Schema,
    only: Sequence[str] | None = None,
    *,
    exclude: Sequence[str] = (),
    choices: Mapping[str, Choices] | None = None,
) -> list[FormField]:
    """The editable fields of `schema` (not dump-only), in declaration or `only` order.

    `exclude` leaves fields out (the schema's defaults then apply); `choices` gives a field
    (a reference by id, typically) its options, as does `metadata={"choices": callable}`.
    """
    loadable = schema.load_fields
    names = list(only) if only else [n for n in loadable if n not in ("id", "version")]
    names = [n for n in names if n not in set(exclude)]
    result = []
    for name in names:
        f = loadable[name]
        reason = unsupported(f)
        if reason is not None:
            raise ValueError(f"form field {name!r}: {reason}; leave it out (exclude=)")
        kind = _input_type(f)
        required = bool(f.required)
        if isinstance(f, fields.List):
            result.append(
                FormField(
                    name=name,
                    label=_label(name, f),
                    input_type="checkboxes",
                    required=required,
                    choices=_choices(f.inner),
                    help=str(f.metadata.get("description", "")),
                    multiple=True,
                )
            )
            continue
        provider = _provided(f, choices or {}, name)
        options = [(str(v), str(lbl)) for v, lbl in provider()] if provider else _choices(f)
        if (options or provider) and not required:
            options = [("", "—"), *options]
        if provider is not None:
            kind = "select"  # a select even while there is nothing to choose yet
        choices_here = options
        step = "any" if isinstance(f, (fields.Decimal, fields.Float)) else None
        result.append(
            FormField(
                name=name,
                label=_label(name, f),
                input_type=kind,
                required=required,
                choices=choices_here,
                help=str(f.metadata.get("description", "")),
                step=step,
            )
        )
    return result


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        text = value.isoformat()
        return text[:16] if "T" in text else text  # datetime-local takes minutes
    return str(value)


# The label of a select's option for a value its choices no longer offer (a deactivated
# member who still owns the record, a retired code).
UNAVAILABLE = "(no longer available)"


def _keep_current_choice(f: FormField) -> None:
    """Offer a select's value even when its choices no longer list it.

    Without it no option would be selected and the browser would post the first one,
    silently clearing or reassigning the reference on save.
    """
    if f.widget != "select" or f.value == "":
        return
    if all(value != f.value for value, _label in f.choices):
        f.choices = [*f.choices, (f.value, UNAVAILABLE)]


def fill_from_record(form: list[FormField], dumped: Mapping[str, Any]) -> None:
    """Put a record's dumped values into the form (for the edit page)."""
    for f in form:
        value = dumped.get(f.name)
        if f.multiple:
            f.values = [str(v) for v in value or ()]
        elif f.input_type == "checkbox":
            f.checked = bool(value)
        else:
            f.value = _as_text(value)
            _keep_current_choice(f)


def fill_from_request(form: list[FormField], data: MultiDict[str, str]) -> None:
    """Put what the user typed back into the form, so an error never loses their input."""
    for f in form:
        if f.multiple:
            f.values = data.getlist(f.name)
        elif f.input_type == "checkbox":
            f.checked = f.name in data
        else:
            f.value = data.get(f.name, "")
            _keep_current_choice(f)


def raw_input(schema: Schema, form: list[FormField], data: MultiDict[str, str]) -> dict[str, Any]:
    """The submitted form as input for `schema.load`.

    An empty box means "not given" for a required field (so the schema says it is
    missing), an empty text for a text field, and None (or absent) for anything else.
    """
    loadable = schema.load_fields
    out: dict[str, Any] = {}
    for f in form:
        mf = loadable[f.name]
        if f.multiple:
            # Nothing ticked is an empty list, not "not given": unticking all clears it.
            out[f.name] = [v for v in data.getlist(f.name) if v.strip()]
            continue
        if f.input_type == "checkbox":
            out[f.name] = f.name in data
            continue
        value = data.get(f.name, "")
        if value.strip() == "":
            if f.required:
                continue
            if isinstance(mf, fields.String) and not f.choices:
                out[f.name] = ""
            elif mf.allow_none:
                out[f.name] = None
            continue
        out[f.name] = value
    return out


def attach_errors(form: list[FormField], messages: Mapping[str, Any]) -> list[str]:
    """Put each field's messages next to it; return the messages no field shows."""
    by_name = {f.name: f for f in form}
    loose: list[str] = []
    for key, value in messages.items():
        texts = _flatten(value)
        if key in by_name:
            by_name[key].errors.extend(texts)
        else:
            label = "" if key in ("_schema", "") else f"{key}: "
            loose.extend(label + t for t in texts)
    return loose


def _flatten(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [t for v in value.values() for t in _flatten(v)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _flatten(v)]
    return [str(value)]
