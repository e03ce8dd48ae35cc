# SelfbtCuda.cmake — resolves SELFBT_CUDA and SELFBT_NCCL: finds nvcc, enables CUDA, detects cuDNN/NCCL.
#
# In:  SELFBT_CUDA (AUTO|ON|OFF), SELFBT_CUDA_ARCH, SELFBT_NCCL (AUTO|ON|OFF).
# Out: SBT_HAVE_CUDA, SBT_HAVE_CUDNN, SBT_HAVE_NCCL (ON/OFF), SBT_CUDA_SUMMARY (one line).
# It enables the language and finds the libraries of lib/backend/cuda (whose CMakeLists.txt links
# CUDA::cudart and CUDA::cublasLt into the library; CUDNN::cudnn and NCCL::nccl are found for later).

# Normalises an AUTO/ON/OFF cache value (ON/TRUE/YES/1 and OFF/FALSE/NO/0 are accepted).
function(sbt_tristate var)
  string(TOUPPER "${${var}}" v)
  if(v MATCHES "^(ON|TRUE|YES|Y|1)$")
    set(v ON)
  elseif(v MATCHES "^(OFF|FALSE|NO|N|0|)$")
    set(v OFF)
  elseif(NOT v STREQUAL "AUTO")
    message(FATAL_ERROR "${var} must be AUTO, ON or OFF (got '${${var}}')")
  endif()
  set(_sbt_${var} ${v} PARENT_SCOPE)
endfunction()

sbt_tristate(SELFBT_CUDA)
sbt_tristate(SELFBT_NCCL)

set(SBT_HAVE_CUDA OFF)
set(SBT_HAVE_CUDNN OFF)
set(SBT_HAVE_NCCL OFF)
set(SBT_CUDA_SUMMARY "")

if(NOT _sbt_SELFBT_CUDA STREQUAL "OFF")
  # nvcc: an explicit CMAKE_CUDA_COMPILER or $CUDACXX wins, then /usr/local/cuda/bin, then PATH.
  if(DEFINED CMAKE_CUDA_COMPILER AND CMAKE_CUDA_COMPILER)
    set(_sbt_nvcc "${CMAKE_CUDA_COMPILER}")
  elseif(DEFINED ENV{CUDACXX} AND NOT "$ENV{CUDACXX}" STREQUAL "")
    set(_sbt_nvcc "$ENV{CUDACXX}")
  else()
    find_program(SELFBT_NVCC_EXECUTABLE nvcc HINTS /usr/local/cuda/bin
                 DOC "nvcc used when SELFBT_CUDA is AUTO or ON")
    set(_sbt_nvcc "${SELFBT_NVCC_EXECUTABLE}")
  endif()

  if(NOT _sbt_nvcc OR NOT EXISTS "${_sbt_nvcc}")
    if(_sbt_SELFBT_CUDA STREQUAL "ON")
      message(FATAL_ERROR "SELFBT_CUDA is ON but nvcc was not found (looked at $CUDACXX, "
        "/usr/local/cuda/bin and PATH). Install the CUDA toolkit, point CUDACXX at nvcc, "
        "or configure with -DSELFBT_CUDA=OFF.")
    endif()
    message(STATUS "CUDA: nvcc not found, CUDA backend off (SELFBT_CUDA=AUTO)")
  else()
    set(CMAKE_CUDA_ARCHITECTURES "${SELFBT_CUDA_ARCH}")
    if(_sbt_SELFBT_CUDA STREQUAL "AUTO")
      # Try the compiler in a scratch project first, so a broken toolkit turns CUDA off
      # instead of failing the configure. The result (path or NOTFOUND) is cached.
      if(NOT DEFINED CMAKE_CUDA_COMPILER)
        include(CheckLanguage)
        set(ENV{CUDACXX} "${_sbt_nvcc}")
        check_language(CUDA)
      endif()
    else()
      set(CMAKE_CUDA_COMPILER "${_sbt_nvcc}")
    endif()
    if(CMAKE_CUDA_COMPILER)
      enable_language(CUDA)
      set(CMAKE_CUDA_STANDARD 17)
      set(CMAKE_CUDA_STANDARD_REQUIRED ON)
      find_package(CUDAToolkit REQUIRED)
      set(SBT_HAVE_CUDA ON)
      set(SBT_CUDA_SUMMARY
        "nvcc ${CMAKE_CUDA_COMPILER_VERSION}, arch ${CMAKE_CUDA_ARCHITECTURES}, ${CUDAToolkit_LIBRARY_ROOT}")
    else()
      message(WARNING "nvcc at ${_sbt_nvcc} cannot build a test program: CUDA backend off")
    endif()
  endif()
endif()

if(SBT_HAVE_CUDA)
  find_package(CUDNN)
  if(CUDNN_FOUND)
    set(SBT_HAVE_CUDNN ON)
  endif()
endif()

if(NOT _sbt_SELFBT_NCCL STREQUAL "OFF")
  if(SBT_HAVE_CUDA)
    find_package(NCCL)
  endif()
  if(SBT_HAVE_CUDA AND NCCL_FOUND)
    set(SBT_HAVE_NCCL ON)
  elseif(_sbt_SELFBT_NCCL STREQUAL "ON")
    message(FATAL_ERROR "SELFBT_NCCL is ON but NCCL is not usable: it needs the CUDA backend "
      "(CUDA on: ${SBT_HAVE_CUDA}) and nccl.h + libnccl (looked under NCCL_ROOT and "
      "/usr/local/cuda). Configure with -DSELFBT_NCCL=OFF to go on.")
  endif()
endif()
