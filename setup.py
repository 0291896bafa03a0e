"""Only the package list lives here: it is computed, so a new driver package needs no edit.

The design card's folders map onto one import package (pyproject.toml has the
rest of the metadata): core/ -> amphora_compute, drivers/ ->
amphora_compute.drivers, hardware_profiles/ -> amphora_compute.hardware_profiles.
Nothing named ``core`` or ``drivers`` lands top-level in site-packages.
"""

from setuptools import find_packages, setup

ROOTS = {
    "amphora_compute": "core",
    "amphora_compute.drivers": "drivers",
    "amphora_compute.hardware_profiles": "hardware_profiles",
}


def packages() -> list[str]:
    found = []
    for package, folder in ROOTS.items():
        found.append(package)
        found += [f"{package}.{sub}" for sub in find_packages(folder)]
    return found


setup(
    packages=packages(),
    package_dir=dict(ROOTS),
)
