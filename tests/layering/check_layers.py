#!/usr/bin/python3
"""Every #include in framework/ and estimators/ respects the layer rules (README "Architecture").

The build enforces the vibench headers (each layer's include path holds only what it may use); this check
also covers system packages, which sit on every include path: TBB, yaml-cpp and HDF5 belong to the run layer
and above. Exit 1 with one line per violation (file:line: what, why)."""
import pathlib, re, sys

root = pathlib.Path(sys.argv[1])
may_use = {  # layer -> vibench layers it may include (its own included)
    'math': {'math'},
    'vi': {'math', 'vi'},
    'nn': {'math', 'nn'},
    'mi': {'math', 'nn', 'mi'},
    'data': {'math', 'data'},
    'plugin': {'math', 'vi', 'nn', 'mi', 'data', 'plugin'},
    'run': {'math', 'vi', 'nn', 'mi', 'data', 'plugin', 'run'},
    'cli': {'math', 'vi', 'nn', 'mi', 'data', 'plugin', 'run', 'cli'},
    'estimators': {'math', 'vi', 'nn', 'mi', 'data', 'plugin'},
}
run_only = re.compile(r'^(tbb/|oneapi/tbb|yaml-cpp/|hdf5\.h|H5[A-Za-z]*\.h)')
include = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')
files = [(p, p.relative_to(root / 'framework').parts[0]) for p in (root / 'framework').rglob('*') if p.suffix in ('.cpp', '.hpp', '.in')]
files += [(p, 'estimators') for p in (root / 'estimators').rglob('*.cpp')]
problems, checked = [], 0
for path, layer in files:
    for n, line in enumerate(path.read_text().splitlines(), 1):
        m = include.match(line)
        if not m:
            continue
        checked += 1
        header = m.group(1)
        if header.startswith('vibench/'):
            parts = header.split('/')
            used = parts[1] if len(parts) > 2 else None
            if used is None:
                problems.append(f'{path}:{n}: {header}: every vibench header lives in a layer folder (vibench/<layer>/...)')
            elif used not in may_use[layer]:
                problems.append(f'{path}:{n}: {header}: the {layer} layer may not use the {used} layer')
        elif run_only.match(header) and layer not in ('run', 'cli'):
            problems.append(f'{path}:{n}: <{header}>: TBB, yaml-cpp and HDF5 are for the run layer and above, not {layer}')
print('\n'.join(problems) if problems else f'layering: {checked} includes in {len(files)} files follow the layer rules')
sys.exit(1 if problems else 0)
