#!/usr/bin/python3
"""Checks aeterna.schema.json with an independent validator (Debian's python3-jsonschema).

The schema itself must be valid draft-07, every "default" and "examples" value in it must pass
the part of the schema it sits in, and each config file must pass (valid:FILE) or fail
(invalid:FILE) the whole schema, as an editor would say.

Usage: schema-check.py SCHEMA valid:FILE|invalid:FILE...   Prints one line per check; exit 0
when every check came out as expected, 1 otherwise.
"""
import json
import sys

import jsonschema
import yaml


def own_values(node, path, problems):
    """Every default and example in the schema, checked against the subschema that holds it."""
    if isinstance(node, dict):
        for name in ("default",):
            if name in node:
                problems += [f"{path}.default: {e.message}" for e in jsonschema.Draft7Validator(node).iter_errors(node[name])]
        for i, example in enumerate(node.get("examples", [])):
            problems += [f"{path}.examples[{i}]: {e.message}" for e in jsonschema.Draft7Validator(node).iter_errors(example)]
        for key, child in node.items():
            if key not in ("default", "examples"):
                own_values(child, f"{path}.{key}", problems)
    elif isinstance(node, list):
        for i, child in enumerate(node):
            own_values(child, f"{path}[{i}]", problems)


def main():
    schema = json.load(open(sys.argv[1], encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    problems = []
    own_values(schema, "$", problems)
    for problem in problems:
        print(f"schema: {problem}")
    ok = not problems
    validator = jsonschema.Draft7Validator(schema)
    for arg in sys.argv[2:]:
        expected, path = arg.split(":", 1)
        with open(path, encoding="utf-8") as f:
            document = yaml.safe_load(f)
        errors = [f"{'.'.join(map(str, e.absolute_path)) or '(top level)'}: {e.message}" for e in validator.iter_errors(document)]
        as_expected = (expected == "valid") == (not errors)
        ok &= as_expected
        print(f"{'ok' if as_expected else 'UNEXPECTED'} {expected} {path}: {'; '.join(errors) if errors else 'no errors'}")
    print(f"{len(sys.argv) - 2} file(s), {'all as expected' if ok else 'not as expected'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
