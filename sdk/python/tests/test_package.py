"""The package as users install it: the version is the .NET packages' one, a wheel builds offline
with Debian's hatchling and carries py.typed, and the tests use the installed package."""
import os
import re
import subprocess
import sys
import tempfile
import unittest
import zipfile

import aeterna

SDK = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(os.path.dirname(SDK))


class PackageTests(unittest.TestCase):
    def test_version_is_the_one_of_the_dotnet_packages(self):
        with open(os.path.join(ROOT, "Directory.Build.props")) as f:
            version = re.search(r"<Version>([^<]+)</Version>", f.read()).group(1)
        self.assertEqual(aeterna.__version__, version)

    def test_the_tests_import_the_installed_package_not_the_source_tree(self):
        self.assertNotIn(os.path.join(SDK, "src"), os.path.abspath(aeterna.__file__))
        self.assertIn("site-packages", aeterna.__file__)

    def test_a_wheel_builds_offline_and_carries_the_types(self):
        with tempfile.TemporaryDirectory() as out:
            subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-index",
                            "--no-build-isolation", "-w", out, SDK], check=True, capture_output=True)
            wheels = [n for n in os.listdir(out) if n.endswith(".whl")]
            self.assertEqual(wheels, ["aeterna-%s-py3-none-any.whl" % aeterna.__version__])
            names = zipfile.ZipFile(os.path.join(out, wheels[0])).namelist()
        for module in ("__init__", "checksum", "frames", "client", "state", "shared_memory",
                       "tensors", "gate", "notify"):
            self.assertIn("aeterna/%s.py" % module, names)
        self.assertIn("aeterna/py.typed", names)

    def test_the_public_api_is_what_the_readme_shows(self):
        for name in ("AeternaClient", "SharedBuffer", "SharedTensor", "AeternaError", "ProtocolError",
                     "HandoverError", "RejectedError", "crc32c", "sd_notify"):
            self.assertIn(name, aeterna.__all__)
            self.assertTrue(hasattr(aeterna, name))
