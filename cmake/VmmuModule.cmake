# vmmu_module(NAME SOURCES ... [LIBS ...] [FREESTANDING])
#
# Declares module NAME as an object library (so its objects can go into
# libvmmu) plus a static library vmmu_NAME for tests and tools. FREESTANDING
# modules are compiled with -ffreestanding so that a libc dependency fails
# the build.
function(vmmu_module name)
  cmake_parse_arguments(M "FREESTANDING" "" "SOURCES;LIBS" ${ARGN})
  add_library(vmmu_${name}_obj OBJECT ${M_SOURCES})
  target_include_directories(vmmu_${name}_obj PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
    $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}>)
  set_target_properties(vmmu_${name}_obj PROPERTIES POSITION_INDEPENDENT_CODE ON)
  if(M_FREESTANDING)
    target_compile_options(vmmu_${name}_obj PRIVATE -ffreestanding)
  endif()
  if(M_LIBS)
    target_link_libraries(vmmu_${name}_obj PUBLIC ${M_LIBS})
  endif()
  add_library(vmmu_${name} STATIC $<TARGET_OBJECTS:vmmu_${name}_obj>)
  target_link_libraries(vmmu_${name} PUBLIC vmmu_${name}_obj)
  set_property(GLOBAL APPEND PROPERTY VMMU_MODULES ${name})
endfunction()

# libvmmu: every module's objects in one static library.
function(vmmu_add_public_library)
  get_property(mods GLOBAL PROPERTY VMMU_MODULES)
  set(objs "")
  set(libs "")
  foreach(m ${mods})
    list(APPEND objs $<TARGET_OBJECTS:vmmu_${m}_obj>)
    list(APPEND libs vmmu_${m}_obj)
  endforeach()
  add_library(vmmu STATIC ${objs})
  target_link_libraries(vmmu PUBLIC ${libs})
  target_include_directories(vmmu PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  install(TARGETS vmmu ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR})
endfunction()
