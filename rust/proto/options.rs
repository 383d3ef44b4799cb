// SPDX-License-Identifier: GPL-2.0

//! Mount options: the same names and meanings as mainline fuse, plus
//! `allow_wbcache`.

/// What one mount's options say.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct MountOptions {
    /// `fd=N`: the open `/dev/fuse-wb` file descriptor.
    pub(crate) fd: Option<u32>,
    /// `rootmode=M` (octal): the root's file type and mode.
    pub(crate) rootmode: Option<u32>,
    /// `user_id=N`: the mounting user (in the mounter's user namespace).
    pub(crate) user_id: Option<u32>,
    /// `group_id=N`: the mounting group.
    pub(crate) group_id: Option<u32>,
    /// `default_permissions`: the kernel checks permissions from the mode.
    pub(crate) default_permissions: bool,
    /// `allow_other`: users other than the mounter may access the mount.
    pub(crate) allow_other: bool,
    /// `max_read=N`: largest READ request, in bytes.
    pub(crate) max_read: Option<u32>,
    /// `blksize=N`: block size reported when the server reports none.
    pub(crate) blksize: Option<u32>,
    /// `allow_wbcache`: use the write-back cache if the server agrees.
    pub(crate) allow_wbcache: bool,
}

/// Why an option was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OptError {
    /// Not one of ours (the VFS handles `source` and generic flags).
    Unknown,
    /// A value that does not parse or is out of range, for the named option.
    Invalid(&'static str),
    /// A flag option given a value, or a valued option without one.
    BadForm(&'static str),
    /// A required option is missing.
    Missing(&'static str),
}

impl OptError {
    /// A one-line explanation naming the option (for the mount log).
    pub(crate) fn message(&self) -> &'static core::ffi::CStr {
        match self {
            OptError::Unknown => c"unknown option",
            OptError::Invalid("fd") => c"invalid value for option fd (a file descriptor number)",
            OptError::Invalid("rootmode") => {
                c"invalid value for option rootmode (octal mode with a valid file type)"
            }
            OptError::Invalid("user_id") => c"invalid value for option user_id",
            OptError::Invalid("group_id") => c"invalid value for option group_id",
            OptError::Invalid("max_read") => c"invalid value for option max_read",
            OptError::Invalid("blksize") => {
                c"invalid value for option blksize (a power of two from 512 to the page size)"
            }
            OptError::Invalid(_) => c"invalid option value",
            OptError::BadForm("default_permissions") => {
                c"option default_permissions takes no value"
            }
            OptError::BadForm("allow_other") => c"option allow_other takes no value",
            OptError::BadForm("allow_wbcache") => c"option allow_wbcache takes no value",
            OptError::BadForm("fd") => c"option fd needs a value",
            OptError::BadForm("rootmode") => c"option rootmode needs a value",
            OptError::BadForm("user_id") => c"option user_id needs a value",
            OptError::BadForm("group_id") => c"option group_id needs a value",
            OptError::BadForm("max_read") => c"option max_read needs a value",
            OptError::BadForm("blksize") => c"option blksize needs a value",
            OptError::BadForm(_) => c"option needs a value",
            OptError::Missing("fd") => c"missing option fd",
            OptError::Missing("rootmode") => c"missing option rootmode",
            OptError::Missing("user_id") => c"missing option user_id",
            OptError::Missing("group_id") => c"missing option group_id",
            OptError::Missing(_) => c"missing option",
        }
    }
}

fn parse_u32(v: &[u8], radix: u32) -> Option<u32> {
    if v.is_empty() || v.len() > 11 {
        return None;
    }
    let mut n: u32 = 0;
    for &c in v {
        let d = (c as char).to_digit(radix)?;
        n = n.checked_mul(radix)?.checked_add(d)?;
    }
    Some(n)
}

impl MountOptions {
    /// Applies one `key[=value]` option. `page_size` bounds `blksize`.
    pub(crate) fn apply(
        &mut self,
        key: &[u8],
        value: Option<&[u8]>,
        page_size: u32,
    ) -> Result<(), OptError> {
        fn flag(value: Option<&[u8]>, name: &'static str) -> Result<bool, OptError> {
            match value {
                None => Ok(true),
                Some(_) => Err(OptError::BadForm(name)),
            }
        }
        fn num(value: Option<&[u8]>, name: &'static str, radix: u32) -> Result<u32, OptError> {
            let v = value.ok_or(OptError::BadForm(name))?;
            parse_u32(v, radix).ok_or(OptError::Invalid(name))
        }
        match key {
            b"fd" => self.fd = Some(num(value, "fd", 10)?),
            b"rootmode" => {
                let m = num(value, "rootmode", 8)?;
                if !super::attr::valid_type(m) || m > 0o177777 {
                    return Err(OptError::Invalid("rootmode"));
                }
                self.rootmode = Some(m);
            }
            b"user_id" => self.user_id = Some(num(value, "user_id", 10)?),
            b"group_id" => self.group_id = Some(num(value, "group_id", 10)?),
            b"max_read" => self.max_read = Some(num(value, "max_read", 10)?),
            b"blksize" => {
                let b = num(value, "blksize", 10)?;
                if !b.is_power_of_two() || b < 512 || b > page_size {
                    return Err(OptError::Invalid("blksize"));
                }
                self.blksize = Some(b);
            }
            b"default_permissions" => {
                self.default_permissions = flag(value, "default_permissions")?
            }
            b"allow_other" => self.allow_other = flag(value, "allow_other")?,
            b"allow_wbcache" => self.allow_wbcache = flag(value, "allow_wbcache")?,
            _ => return Err(OptError::Unknown),
        }
        Ok(())
    }

    /// Writes the options as `/proc/mounts` shows them, each after a comma:
    /// mainline's `fuse_show_options` (`user_id`, `group_id`,
    /// `default_permissions`, `allow_other`, `max_read`), then `blksize` and
    /// `allow_wbcache` when they were given.
    pub(crate) fn show(&self, out: &mut impl core::fmt::Write) -> core::fmt::Result {
        write!(out, ",user_id={}", self.user_id.unwrap_or(0))?;
        write!(out, ",group_id={}", self.group_id.unwrap_or(0))?;
        if self.default_permissions {
            out.write_str(",default_permissions")?;
        }
        if self.allow_other {
            out.write_str(",allow_other")?;
        }
        if let Some(n) = self.max_read {
            write!(out, ",max_read={n}")?;
        }
        if let Some(n) = self.blksize {
            write!(out, ",blksize={n}")?;
        }
        if self.allow_wbcache {
            out.write_str(",allow_wbcache")?;
        }
        Ok(())
    }

    /// Checks that the options a mount needs are all present.
    pub(crate) fn check_complete(&self) -> Result<(), OptError> {
        if self.fd.is_none() {
            return Err(OptError::Missing("fd"));
        }
        if self.rootmode.is_none() {
            return Err(OptError::Missing("rootmode"));
        }
        if self.user_id.is_none() {
            return Err(OptError::Missing("user_id"));
        }
        if self.group_id.is_none() {
            return Err(OptError::Missing("group_id"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_as_mainline_then_ours() {
        let mut s = String::new();
        let o = parse(&[
            ("fd", Some("3")),
            ("rootmode", Some("40000")),
            ("user_id", Some("1000")),
            ("group_id", Some("100")),
        ])
        .unwrap();
        o.show(&mut s).unwrap();
        assert_eq!(s, ",user_id=1000,group_id=100");
        let o = parse(&[
            ("user_id", Some("0")),
            ("group_id", Some("0")),
            ("allow_wbcache", None),
            ("allow_other", None),
            ("max_read", Some("65536")),
            ("default_permissions", None),
        ])
        .unwrap();
        s.clear();
        o.show(&mut s).unwrap();
        assert_eq!(
            s,
            ",user_id=0,group_id=0,default_permissions,allow_other,max_read=65536,allow_wbcache"
        );
    }

    fn parse(opts: &[(&str, Option<&str>)]) -> Result<MountOptions, OptError> {
        let mut o = MountOptions::default();
        for (k, v) in opts {
            o.apply(k.as_bytes(), v.map(str::as_bytes), 4096)?;
        }
        Ok(o)
    }

    #[test]
    fn full_set() {
        let o = parse(&[
            ("fd", Some("3")),
            ("rootmode", Some("40000")),
            ("user_id", Some("1000")),
            ("group_id", Some("100")),
            ("default_permissions", None),
            ("allow_other", None),
            ("max_read", Some("131072")),
            ("blksize", Some("4096")),
            ("allow_wbcache", None),
        ])
        .unwrap();
        assert_eq!(o.fd, Some(3));
        assert_eq!(o.rootmode, Some(0o40000));
        assert_eq!((o.user_id, o.group_id), (Some(1000), Some(100)));
        assert!(o.default_permissions && o.allow_other && o.allow_wbcache);
        assert_eq!((o.max_read, o.blksize), (Some(131072), Some(4096)));
        assert!(o.check_complete().is_ok());
    }

    #[test]
    fn errors_name_the_option() {
        assert_eq!(parse(&[("fd", Some("x"))]), Err(OptError::Invalid("fd")));
        assert_eq!(parse(&[("fd", None)]), Err(OptError::BadForm("fd")));
        assert_eq!(
            parse(&[("fd", Some("99999999999"))]),
            Err(OptError::Invalid("fd"))
        );
        assert_eq!(
            parse(&[("rootmode", Some("644"))]),
            Err(OptError::Invalid("rootmode"))
        );
        assert_eq!(
            parse(&[("rootmode", Some("9"))]),
            Err(OptError::Invalid("rootmode"))
        );
        assert_eq!(
            parse(&[("blksize", Some("1000"))]),
            Err(OptError::Invalid("blksize"))
        );
        assert_eq!(
            parse(&[("blksize", Some("8192"))]),
            Err(OptError::Invalid("blksize"))
        );
        assert_eq!(
            parse(&[("allow_other", Some("1"))]),
            Err(OptError::BadForm("allow_other"))
        );
        assert_eq!(parse(&[("bogus", None)]), Err(OptError::Unknown));
        let o = parse(&[
            ("fd", Some("3")),
            ("rootmode", Some("40000")),
            ("user_id", Some("0")),
        ])
        .unwrap();
        assert_eq!(o.check_complete(), Err(OptError::Missing("group_id")));
        assert_eq!(
            MountOptions::default().check_complete(),
            Err(OptError::Missing("fd"))
        );
        let msg = |e: OptError| e.message().to_str().unwrap();
        assert!(msg(OptError::Missing("rootmode")).contains("rootmode"));
        assert!(msg(OptError::Invalid("max_read")).contains("max_read"));
        assert!(msg(OptError::BadForm("blksize")).contains("blksize"));
    }
}
