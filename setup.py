"""Package layout that setup.cfg cannot express on its own.

The project keeps ``templates/`` and ``migrations/`` at the top level; an installed
package needs them inside ``registry/``, so they are mapped to ``registry.templates``
and ``registry.migrations`` here (``registry.paths.resource_dir`` finds either).
Everything else (metadata, dependencies, entry points) is in setup.cfg.
"""

from setuptools import find_packages, setup

packages = find_packages(include=["registry", "registry.*", "scoring", "scoring.*"])
setup(
    packages=[*packages, "registry.templates", "registry.migrations",
              "registry.migrations.versions"],
    package_dir={"registry.templates": "templates", "registry.migrations": "migrations"},
    package_data={
        "registry": ["static/*", "auth/*.txt", "translations/*.pot",
                     "translations/*/LC_MESSAGES/*.po", "translations/*/LC_MESSAGES/*.mo"],
        "scoring": ["textpacks_data/*.json"],
        "registry.templates": ["*.html", "**/*.html"],
        "registry.migrations": ["*.mako", "*.ini", "*.py"],
        "registry.migrations.versions": ["*.py"],
    },
)
