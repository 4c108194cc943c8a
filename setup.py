"""Packages: everything under src/, plus the top-level static/ UI bundle as package data."""

from setuptools import find_packages, setup

setup(packages=[*find_packages("src"), "prefect_trio_server.static"])
