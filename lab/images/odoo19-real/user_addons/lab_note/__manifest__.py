{
    "name": "Lab note",
    "summary": "A real Odoo 19 addon of the panel's lab tests: one model, one record.",
    "version": "19.0.1.0.0",
    "depends": ["base"],
    "license": "LGPL-3",
    "data": ["security/ir.model.access.csv", "data/notes.xml"],
    "installable": True,
}
