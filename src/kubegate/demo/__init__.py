"""Demo backends and the API objects that publish them, for `kubegate serve --demo`."""

from kubegate.demo.seed import DEMO_ANNOTATION, DEMO_NAMESPACE, DemoService, demo_objects

__all__ = ["DEMO_ANNOTATION", "DEMO_NAMESPACE", "DemoService", "demo_objects"]
