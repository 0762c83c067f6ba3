import contextlib
import contextvars
import functools

import psycopg2.errors

from odoo import api, models

# the customers collected by ``_retention_batched`` while it runs (None:
# each change refreshes at once); per thread and task, so a client's
# context or another request cannot reach it
_BATCH = contextvars.ContextVar("crm_retention_refresh_batch", default=None)


class CrmRetentionDealMixin(models.AbstractModel):
    """A document that is a customer's purchase (an opportunity, a sale
    order, an invoice, a point of sale order): keeps its customers'
    lifecycle profiles current as it changes.

    Creating or deleting one, or writing one of ``_retention_deal_fields``,
    refreshes the customers of the documents that count, before and after
    the change, at once and one refresh per company
    (``crm.customer.profile._recompute_customers``), with the company's
    current model parameters; the daily cron refits the model itself.
    Server code that recomputes at the end (demo loaders, imports) skips the
    refresh with the context key ``lifecycle_skip_refresh`` under sudo; a
    client's context cannot.

    Where one user action changes many documents one by one (the lines of
    an order edited in one save, a till syncing its orders), the refreshes
    are collected and made once at the end (``_retention_batched``): no
    recompute per line or per order. (An import creates its records in
    batches already.)

    A model inherits it and says which of its records count
    (``_retention_counts``), or overrides ``_retention_keys`` when the
    customer or company is found differently::

        class SaleOrder(models.Model):
            _name = "sale.order"
            _inherit = ["sale.order", "crm.retention.deal.mixin"]
            _retention_deal_fields = frozenset({"state", "date_order", "partner_id"})

            def _retention_counts(self):
                return self.state == "sale"
    """

    _name = "crm.retention.deal.mixin"
    _description = "Customer Purchase Document"

    # fields whose change moves the document's deal
    _retention_deal_fields = frozenset()

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        records._retention_refresh(records._retention_keys())
        return records

    def write(self, vals):
        if not self._retention_deal_fields & vals.keys() or self._retention_refresh_skipped():
            return super().write(vals)
        before = self._retention_keys()
        result = super().write(vals)
        self._retention_refresh(before | self._retention_keys())
        return result

    def unlink(self):
        keys = self._retention_keys()
        result = super().unlink()
        self._retention_refresh(keys)
        return result

    @contextlib.contextmanager
    def _retention_batched(self):
        """Inside, the refreshes of every purchase document that changes
        are collected, and the customers concerned are refreshed once when
        the block ends (one set-based recompute instead of one per record
        written in a loop). Inside another batch, the outer one refreshes.
        Use it around code that writes documents one by one::

            with self._retention_batched():
                for order in orders:
                    order.write(...)

        When the block raises, the customers of what it wrote before the
        error are refreshed when the transaction commits: a caller that
        catches the error and goes on (a loop that skips the record it could
        not save) keeps those writes, with or without a savepoint. A
        transaction rolled back drops the refresh with the writes; nothing
        runs while the error propagates, so it can neither mask the error
        nor meet a transaction the error failed.
        """
        if _BATCH.get() is not None:
            yield
            return
        keys = set()
        token = _BATCH.set(keys)
        try:
            yield
        except Exception:
            if keys and not self._retention_refresh_skipped():
                self.env.cr.precommit.add(functools.partial(self._retention_refresh_now, keys))
            raise
        finally:
            _BATCH.reset(token)
        self._retention_refresh(keys)

    def _retention_refresh_now(self, keys):
        """Refresh the customers ``keys`` now, outside any batch, and write
        what the ORM still holds (a pre-commit hook runs after the last
        flush). In a transaction an error failed, which the commit rolls
        back, there is nothing to refresh."""
        with contextlib.suppress(psycopg2.errors.InFailedSqlTransaction):
            self.env["crm.customer.profile"].sudo()._recompute_customers(keys)
            self.env.flush_all()

    def _retention_refresh_skipped(self):
        """Whether server code (sudo) asked to skip the refresh."""
        return self.env.su and self.env.context.get("lifecycle_skip_refresh")

    def _retention_refresh(self, keys):
        if not keys or self._retention_refresh_skipped():
            return
        batch = _BATCH.get()
        if batch is not None:
            batch |= keys
            return
        self.env["crm.customer.profile"].sudo()._recompute_customers(keys)

    def _retention_keys(self):
        """(commercial partner id, company) of these documents that count:
        the customers whose purchases they are."""
        return {
            (record.partner_id.commercial_partner_id.id, record.company_id)
            for record in self.sudo()
            if record.partner_id and record.company_id and record._retention_counts()
        }

    def _retention_counts(self):
        """Whether this document (one record) is a purchase now."""
        return False
