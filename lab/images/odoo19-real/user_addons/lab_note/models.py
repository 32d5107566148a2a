from odoo import fields, models


class LabNote(models.Model):
    _name = "lab.note"
    _description = "Lab note"

    name = fields.Char(required=True)
