def selection_of(model_name, field_name):
    """Selection of a field of another model, for a report column that
    mirrors it: ``state = fields.Selection(selection_of("crm.interaction",
    "state"))``. The labels come from the source field in the user's
    language (a callable selection is not translated by Odoo itself)."""

    def selection(self):
        return self.env[model_name]._fields[field_name]._description_selection(self.env)

    return selection
