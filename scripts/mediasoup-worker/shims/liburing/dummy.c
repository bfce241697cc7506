/* intentionally empty: see meson.build */
