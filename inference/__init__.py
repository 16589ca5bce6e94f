"""Image algorithms and models for Portrait Lab.

This package imports no Django: arrays in, arrays out. Engines are registered in
``inference.engines`` and created by name; the web platform only ever talks to that registry.
"""
