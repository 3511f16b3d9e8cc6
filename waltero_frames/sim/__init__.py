"""The bundled Waltero API simulator (placeholder: being built)."""
