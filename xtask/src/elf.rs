//! Just enough ELF reading to prove a shipped binary is static and stripped, without
//! trusting `file(1)` to be installed where packages are checked.

/// Facts about a 64-bit little-endian ELF executable.
#[derive(Debug, PartialEq, Eq)]
pub struct ElfFacts {
    /// x86_64 (`EM_X86_64`).
    pub x86_64: bool,
    /// Has a `PT_INTERP` header, i.e. needs a dynamic loader (not static).
    pub has_interpreter: bool,
    /// Has a `.symtab` section (not stripped).
    pub has_symtab: bool,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(at..at + 2)?.try_into().ok()?))
}
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}
fn u64_at(b: &[u8], at: usize) -> Option<usize> {
    usize::try_from(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?)).ok()
}

/// Reads the facts, or `None` when the bytes are not a 64-bit little-endian ELF file.
pub fn inspect(b: &[u8]) -> Option<ElfFacts> {
    if b.get(0..4)? != b"\x7fELF" || *b.get(4)? != 2 || *b.get(5)? != 1 {
        return None;
    }
    let machine = u16_at(b, 18)?;
    let (phoff, shoff) = (u64_at(b, 32)?, u64_at(b, 40)?);
    let (phentsize, phnum) = (usize::from(u16_at(b, 54)?), usize::from(u16_at(b, 56)?));
    let (shentsize, shnum) = (usize::from(u16_at(b, 58)?), usize::from(u16_at(b, 60)?));
    let shstrndx = usize::from(u16_at(b, 62)?);
    let has_interpreter = (0..phnum)
        .map(|i| u32_at(b, phoff + i * phentsize))
        .any(|t| t == Some(3));
    let strtab_header = shoff + shstrndx * shentsize;
    let names = u64_at(b, strtab_header + 24).unwrap_or(0);
    let has_symtab = (0..shnum).any(|i| {
        let name = u32_at(b, shoff + i * shentsize).unwrap_or(0) as usize;
        b.get(names + name..)
            .is_some_and(|s| s.starts_with(b".symtab\0"))
    });
    Some(ElfFacts {
        x86_64: machine == 62,
        has_interpreter,
        has_symtab,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_elf_bytes_are_not_elf() {
        assert_eq!(inspect(b"#!/bin/sh\n"), None);
        assert_eq!(inspect(b""), None);
    }

    #[test]
    fn this_test_binary_is_a_dynamic_unstripped_elf() {
        // Test binaries are built for the host (glibc, dynamic) with symbols.
        let me = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let facts = inspect(&me).unwrap();
        assert!(
            facts.x86_64 && facts.has_interpreter && facts.has_symtab,
            "{facts:?}"
        );
    }
}
