"""The consume path: one consumer per instance, each poll screened record by record and handled in one
transaction; and the patches to aiokafka it needs (``aiokafka_patches``)."""
