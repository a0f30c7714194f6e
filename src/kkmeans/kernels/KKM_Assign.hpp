#pragma once
/// \file KKM_Assign.hpp
/// \brief The assignment step (see kernels/assign/): assign_rows, its dispatch and its kernels.
#include <kkmeans/kernels/assign/KKM_AssignRows.hpp>
