// Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, …) are macros that
// cast the address of a global object, which Swift cannot import. These inline
// functions hand them over as values.
#ifndef EKD_CMPI_SHIM_H
#define EKD_CMPI_SHIM_H
#include <mpi.h>

static inline MPI_Comm ekd_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype ekd_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype ekd_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype ekd_mpi_byte(void) { return MPI_BYTE; }
static inline MPI_Datatype ekd_mpi_int(void) { return MPI_INT; }
static inline MPI_Op ekd_mpi_sum(void) { return MPI_SUM; }
static inline void *ekd_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Status *ekd_mpi_status_ignore(void) { return MPI_STATUS_IGNORE; }
static inline int ekd_mpi_thread_funneled(void) { return MPI_THREAD_FUNNELED; }
static inline int ekd_mpi_success(void) { return MPI_SUCCESS; }
static inline int ekd_mpi_undefined(void) { return MPI_UNDEFINED; }
#endif
