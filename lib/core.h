/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ELF core files of guests that failed a call (lib/core.c), for gdb.
 */
#ifndef VMLET_CORE_H
#define VMLET_CORE_H

#include <stddef.h>
#include <stdint.h>

struct vmlet_sandbox;

/* The core's own note: the fault's message as text, NUL-terminated. */
#define VMLET_CORE_NOTE_NAME  "VMLET"
#define VMLET_CORE_NOTE_FAULT 1
/* Memory segments a core holds at most (runs of pages that are not zero). */
#define VMLET_CORE_MAX_RUNS 4096

/*
 * Expand the core_path template tmpl for sandbox id into buf: %i the id,
 * %p the process id, %% a %. -EINVAL for an empty template or any other
 * %, -ENAMETOOLONG when it does not fit in size bytes. buf NULL only
 * checks the template.
 */
int vmlet_core_path(const char *tmpl, uint64_t id, char *buf, size_t size);

/*
 * After a failed call of func: write sb's core file when its config has a
 * core_path and the guest caused the failure, and set fault.core_error
 * (0 also when no core was asked for).
 */
void __vmlet_core_dump(struct vmlet_sandbox *sb, const char *func);

#endif /* VMLET_CORE_H */
