"""CMS: content pages and media files."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from functools import partial
from typing import Any, ClassVar

from sqlalchemy import Select, exists, func, or_, select

from exporter.contracts import MetricsContext, MetricValue, Scope
from exporter.schema import SchemaTables
from providers._base import GroupedProvider, GroupRows, Spec, first
from providers._sql import Grouped, active_links, count_where, total


def _platform_pages(t: SchemaTables, platform_ids: Collection[int]) -> Select[Any]:
    """Pages of platform P that are the platform's own or belong to a vendor actively linked to P."""
    pages = t.content_pages
    links = active_links(t)
    linked = exists().where(links.c.vendor_id == pages.c.vendor_id, links.c.platform_id == pages.c.platform_id)
    return (
        select(
            pages.c.platform_id.label("owner"),
            func.count().label("pages"),
            count_where(pages.c.is_published.is_(True)).label("published"),
        )
        .where(pages.c.platform_id.in_(sorted(platform_ids)), or_(pages.c.vendor_id.is_(None), linked))
        .group_by(pages.c.platform_id)
    )


class CmsMetricsProvider(GroupedProvider):
    """The `cms` module's metrics (a core module)."""

    category = "cms"
    CATALOG: ClassVar[Mapping[str, Spec]] = {
        "cms.pages": Spec("Content Pages", "Content pages.", "document-text"),
        "cms.pages_published": Spec("Published Pages", "Content pages that are published.", "globe"),
        "cms.media_files": Spec("Media Files", "Uploaded media files.", "photograph"),
        "cms.media_size": Spec("Media Size", "Total size of uploaded media files.", "database", unit="bytes"),
    }

    def groups(self, t: SchemaTables, context: MetricsContext) -> Mapping[str, Grouped]:
        """Pages (per vendor: any platform; per platform: see `_platform_pages`) and media."""
        pages, media = t.content_pages, t.media_files
        return {
            "pages": Grouped(
                source=pages,
                vendor_id=pages.c.vendor_id,
                columns={"pages": func.count(), "published": count_where(pages.c.is_published.is_(True))},
                platform_override=partial(_platform_pages, t),
            ),
            "media": Grouped(
                source=media,
                vendor_id=media.c.vendor_id,
                columns={"files": func.count(), "bytes": total(media.c.file_size)},
            ),
        }

    def values(self, scope: Scope, rows: GroupRows, context: MetricsContext) -> list[MetricValue]:
        """Page and media counts, media bytes."""
        return [
            self.metric("cms.pages", first(rows, "pages", "pages"), context),
            self.metric("cms.pages_published", first(rows, "pages", "published"), context),
            self.metric("cms.media_files", first(rows, "media", "files"), context),
            self.metric("cms.media_size", first(rows, "media", "bytes"), context),
        ]
