using VirtioRpmsg.Lifecycle;

namespace VirtioRpmsg.Tests.Lifecycle;

public class ElfImageTests
{
    private static ElfFormatException Reject(byte[] file, string field)
    {
        var ex = Assert.Throws<ElfFormatException>(() => ElfImage.Parse(file));
        Assert.Equal(field, ex.Field);
        Assert.Contains(field, ex.Message);
        return ex;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Parse_ValidImage_ReadsHeadersAndFindsResourceTable(bool is64)
    {
        var image = ElfImage.Parse(TestFirmware.Build(is64).Bytes);

        Assert.Equal(is64 ? ElfClass.Elf64 : ElfClass.Elf32, image.Class);
        Assert.Equal(is64 ? 183 : 40, image.Machine);
        Assert.Equal(TestFirmware.CodeAddress, image.Entry);
        var loads = image.LoadSegments.ToArray();
        Assert.Equal(2, loads.Length);
        Assert.Equal(TestFirmware.CodeAddress, loads[0].PhysicalAddress);
        Assert.Equal(256UL, loads[0].FileSize);
        Assert.Equal(TestFirmware.CodeMemorySize, loads[0].MemorySize);
        Assert.Equal(TestFirmware.Code, image.GetSegmentData(loads[0]).ToArray());
        Assert.Equal(["", ".text", ".comment", ".resource_table", ".shstrtab"], image.Sections.Select(s => s.Name));
        Assert.Equal("test firmware\0"u8.ToArray(), image.GetSectionData(image.FindSection(".comment")!).ToArray());

        var section = image.ResourceTableSection!;
        Assert.Equal(TestFirmware.TableAddress, section.Address);
        Assert.Equal(ResourceTableBuilder.BuildOpenAmpLinux(), image.GetResourceTableBytes().ToArray());
        Assert.Equal(0x4000u, image.ReadResourceTable().GetRpmsgVdev().Vrings[0].DeviceAddress);
    }

    [Fact]
    public void GetResourceTableBytes_NoSection_ThrowsNamingSection()
    {
        var image = ElfImage.Parse(TestFirmware.Build(false, withResourceTable: false).Bytes);
        Assert.Null(image.ResourceTableSection);
        var ex = Assert.Throws<ElfFormatException>(() => image.GetResourceTableBytes());
        Assert.Contains(".resource_table", ex.Field);
    }

    [Fact]
    public void Parse_BadMagic_ThrowsNamingMagic()
    {
        var f = TestFirmware.Build(false).Copy();
        f[1] = (byte)'X';
        Reject(f, "e_ident[EI_MAG]");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    public void Parse_BadClass_ThrowsNamingClass(byte cls)
    {
        var f = TestFirmware.Build(false).Copy();
        f[4] = cls;
        Assert.Equal(cls, Reject(f, "e_ident[EI_CLASS]").Value);
    }

    [Fact]
    public void Parse_BigEndian_ThrowsNamingData()
    {
        var f = TestFirmware.Build(true).Copy();
        f[5] = 2;
        Reject(f, "e_ident[EI_DATA]");
    }

    [Fact]
    public void Parse_BadVersion_ThrowsNamingVersion()
    {
        var f = TestFirmware.Build(true).Copy();
        ElfTestImage.PutU32(f, 20, 0);
        Reject(f, "e_version");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Parse_TruncatedHeader_ThrowsNamingEhsize(bool is64)
    {
        var f = TestFirmware.Build(is64).Bytes.AsSpan(0, is64 ? 60 : 48).ToArray();
        Reject(f, "e_ehsize");
        Reject(f.AsSpan(0, 10).ToArray(), "e_ident");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Parse_PhoffPastEnd_ThrowsNamingPhoff(bool is64)
    {
        var img = TestFirmware.Build(is64);
        var f = img.Copy();
        img.PutWord(f, img.EPhoffAt, (ulong)f.Length + 1);
        Reject(f, "e_phoff");
        if (is64)
        {
            img.PutWord(f, img.EPhoffAt, ulong.MaxValue - 8);
            Reject(f, "e_phoff");
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Parse_PhnumTimesPhentsizePastEnd_ThrowsNamingPhnum(bool is64)
    {
        var img = TestFirmware.Build(is64);
        var f = img.Copy();
        ElfTestImage.PutU16(f, img.EPhentsizeAt, 0xFFFF);
        ElfTestImage.PutU16(f, img.EPhnumAt, 0xFFFE);
        Assert.Equal(0xFFFEUL, Reject(f, "e_phnum").Value);
    }

    [Fact]
    public void Parse_PhentsizeTooSmall_ThrowsNamingPhentsize()
    {
        var img = TestFirmware.Build(false);
        var f = img.Copy();
        ElfTestImage.PutU16(f, img.EPhentsizeAt, 16);
        Reject(f, "e_phentsize");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Parse_SegmentFileRangePastEnd_ThrowsNamingField(bool is64)
    {
        var img = TestFirmware.Build(is64);
        var f = img.Copy();
        img.PutWord(f, img.Phdr(0) + img.POffsetAt, (ulong)f.Length - 4);
        Assert.Equal(0, Reject(f, "p_filesz").Index);
        img.PutWord(f, img.Phdr(0) + img.POffsetAt, (ulong)f.Length + 4);
        Reject(f, "p_offset");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Parse_FileszAboveMemsz_ThrowsNamingFilesz(bool is64)
    {
        var img = TestFirmware.Build(is64);
        var f = img.Copy();
        img.PutWord(f, img.Phdr(1) + img.PMemszAt, 87);
        var ex = Reject(f, "p_filesz");
        Assert.Equal(1, ex.Index);
        Assert.Equal(88UL, ex.Value);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Parse_OverlappingSegments_ThrowsNamingPaddr(bool is64)
    {
        var img = TestFirmware.Build(is64);
        var f = img.Copy();
        // Segment 1 starts at the last byte of segment 0's memory image.
        img.PutWord(f, img.Phdr(1) + img.PPaddrAt, TestFirmware.CodeAddress + TestFirmware.CodeMemorySize - 1);
        Assert.Equal(1, Reject(f, "p_paddr").Index);
        // Touching (adjacent) segments are fine.
        img.PutWord(f, img.Phdr(1) + img.PPaddrAt, TestFirmware.CodeAddress + TestFirmware.CodeMemorySize);
        Assert.Equal(2, ElfImage.Parse(f).LoadSegments.Count());
    }

    [Theory]
    [InlineData(false, 0xFFFF_F000UL)]
    [InlineData(true, 0xFFFF_FFFF_FFFF_F000UL)]
    public void Parse_SegmentWrapsAddressSpace_ThrowsNamingMemsz(bool is64, ulong paddr)
    {
        var img = TestFirmware.Build(is64);
        var f = img.Copy();
        img.PutWord(f, img.Phdr(1) + img.PPaddrAt, paddr);
        img.PutWord(f, img.Phdr(1) + img.PMemszAt, 0x2000);
        Reject(f, "p_memsz");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Parse_ShstrndxOutOfRange_ThrowsNamingShstrndx(bool is64)
    {
        var img = TestFirmware.Build(is64);
        var f = img.Copy();
        ElfTestImage.PutU16(f, img.EShstrndxAt, (ushort)img.SectionCount);
        Assert.Equal((ulong)img.SectionCount, Reject(f, "e_shstrndx").Value);
        ElfTestImage.PutU16(f, img.EShstrndxAt, 0xFFFF);
        Reject(f, "e_shstrndx");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Parse_SectionNameOutOfRange_ThrowsNamingShName(bool is64)
    {
        var img = TestFirmware.Build(is64);
        var f = img.Copy();
        ElfTestImage.PutU32(f, img.Shdr(3), 0x10000);
        Assert.Equal(3, Reject(f, "sh_name").Index);
    }

    [Fact]
    public void Parse_SectionNameNotTerminated_ThrowsNamingShName()
    {
        var img = TestFirmware.Build(false);
        var f = img.Copy();
        // The name table ends with ".shstrtab\0"; drop its last byte by shrinking sh_size.
        int strtab = img.Shdr(img.ShStrIndex);
        uint size = BitConverter.ToUInt32(f, strtab + 20);
        ElfTestImage.PutU32(f, strtab + 20, size - 1);
        Assert.Equal(img.ShStrIndex, Reject(f, "sh_name").Index);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Parse_SectionDataPastEnd_ThrowsNamingShSize(bool is64)
    {
        var img = TestFirmware.Build(is64);
        var f = img.Copy();
        int sizeAt = img.Shdr(2) + (is64 ? 32 : 20);
        img.PutWord(f, sizeAt, (ulong)f.Length);
        Assert.Equal(2, Reject(f, "sh_size").Index);
    }

    [Fact]
    public void Parse_ShoffPastEnd_ThrowsNamingShoff()
    {
        var img = TestFirmware.Build(true);
        var f = img.Copy();
        img.PutWord(f, img.EShoffAt, ulong.MaxValue);
        Reject(f, "e_shoff");
    }

    [Fact]
    public void Parse_ShnumPastEnd_ThrowsNamingShnum()
    {
        var img = TestFirmware.Build(false);
        var f = img.Copy();
        ElfTestImage.PutU16(f, img.EShnumAt, (ushort)(img.SectionCount + 1));
        Reject(f, "e_shnum");
    }

    [Fact]
    public void Parse_NameTableNotStrtab_ThrowsNamingShType()
    {
        var img = TestFirmware.Build(false);
        var f = img.Copy();
        ElfTestImage.PutU32(f, img.Shdr(img.ShStrIndex) + 4, 1);
        Assert.Equal(img.ShStrIndex, Reject(f, "sh_type").Index);
    }

    [Fact]
    public void Parse_TakesPrivateCopy_LaterFileChangesInvisible()
    {
        var f = TestFirmware.Build(false).Copy();
        var image = ElfImage.Parse(f);
        Array.Clear(f);
        Assert.Equal(ResourceTableBuilder.BuildOpenAmpLinux(), image.GetResourceTableBytes().ToArray());
    }
}
