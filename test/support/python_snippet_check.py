"""Checks a Python snippet against the names of the jsii-generated Python module.

Usage: python3 python_snippet_check.py <generated __init__.py> <snippet.py> [<module name>]

The generated module cannot be imported here (it needs the `jsii` runtime from PyPI), so both
files are read with `ast`:
- every name the snippet imports from the module is a class (or enum) the module defines;
- every call of such a class passes only keyword arguments its __init__ accepts;
- `Class.NAME` is an enum member, a static method or a class attribute of that class;
- `var.name`, where `var` was assigned a call of such a class, is a property or method of it.
Prints one line per problem and exits 1 when there is any; prints what it checked otherwise.
"""
import ast
import sys


class GeneratedClass:
    def __init__(self, node: ast.ClassDef):
        self.name = node.name
        self.init_params = set()
        self.members = set()
        for item in node.body:
            if isinstance(item, ast.FunctionDef):
                if item.name == "__init__":
                    args = item.args
                    self.init_params = {a.arg for a in args.args + args.kwonlyargs if a.arg != "self"}
                else:
                    self.members.add(item.name)
            elif isinstance(item, ast.Assign):
                for target in item.targets:
                    if isinstance(target, ast.Name):
                        self.members.add(target.id)
            elif isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                self.members.add(item.target.id)


def generated_classes(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        tree = ast.parse(f.read(), path)
    return {node.name: GeneratedClass(node) for node in tree.body if isinstance(node, ast.ClassDef)}


def check(generated_path: str, snippet_path: str, module: str) -> int:
    classes = generated_classes(generated_path)
    with open(snippet_path, encoding="utf-8") as f:
        snippet = ast.parse(f.read(), snippet_path)

    problems = []
    checked = []
    imported = {}
    for node in ast.walk(snippet):
        if isinstance(node, ast.ImportFrom) and node.module == module:
            for alias in node.names:
                if alias.name not in classes:
                    problems.append(f"line {node.lineno}: {module} has no {alias.name}")
                else:
                    imported[alias.asname or alias.name] = classes[alias.name]
                    checked.append(alias.name)

    def class_of_call(value):
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
            return imported.get(value.func.id)
        return None

    variables = {}
    for node in ast.walk(snippet):
        if isinstance(node, ast.Assign) and class_of_call(node.value) is not None:
            for target in node.targets:
                if isinstance(target, ast.Name):
                    variables[target.id] = class_of_call(node.value)

    for node in ast.walk(snippet):
        if isinstance(node, ast.Call):
            cls = class_of_call(node)
            if cls is not None:
                for keyword in node.keywords:
                    if keyword.arg is None:
                        continue
                    if keyword.arg not in cls.init_params:
                        problems.append(f"line {node.lineno}: {cls.name}() takes no keyword argument {keyword.arg}"
                                        f" (it takes {', '.join(sorted(cls.init_params))})")
                    else:
                        checked.append(f"{cls.name}({keyword.arg}=)")
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            owner = node.value.id
            cls = imported.get(owner) or variables.get(owner)
            if cls is None:
                continue
            if node.attr not in cls.members:
                problems.append(f"line {node.lineno}: {cls.name} has no member {node.attr}")
            else:
                checked.append(f"{cls.name}.{node.attr}")

    if not imported:
        problems.append(f"the snippet imports nothing from {module}")
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print("checked: " + ", ".join(sorted(set(checked))))
    return 0


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        print(__doc__)
        sys.exit(2)
    sys.exit(check(sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) == 4 else "cdk_vm_export"))
