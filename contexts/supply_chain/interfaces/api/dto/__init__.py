"""Request and response bodies of the operational API (pydantic), one module per area.

Input models check shape and the limits the database needs (decimal places, lengths)
and forbid unknown fields; business rules stay in the domain, whose refusals come
back as 409 or 422 problems. Exact amounts are JSON strings on the way out
(``"12.5"``) and numbers or strings on the way in.
"""
