"""Models used only by the kernel's tests: a tenant-owned parent with children."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.db import Base
from core.mixins import BusinessModel, SoftDelete, TenantOwned, UUIDPrimaryKey
from core.types import Money

TEST_INFO = {"test_only": True}


class Project(BusinessModel, SoftDelete, Base):
    """A tenant-owned record with a relationship, a money column and a version."""

    __tablename__ = "test_project"
    __table_args__ = {"info": TEST_INFO}

    name: Mapped[str] = mapped_column(String(100))
    budget: Mapped[Money] = mapped_column(default=Decimal("0"))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    tasks: Mapped[list[Task]] = relationship(back_populates="project", order_by="Task.title")


class Task(UUIDPrimaryKey, TenantOwned, Base):
    """A child row pointing at a project of the same tenant."""

    __tablename__ = "test_task"
    __table_args__ = {"info": TEST_INFO}

    title: Mapped[str] = mapped_column(String(100))
    hours: Mapped[Money] = mapped_column(default=Decimal("0"))
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("test_project.id"))
    project: Mapped[Project] = relationship(back_populates="tasks")


def test_tables() -> list:
    """The tables of the test-only models."""
    return [Project.__table__, Task.__table__]
